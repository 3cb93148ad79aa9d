"""``http``: one HTTP(S) request, observed the way Gatus observes it.

Any response is an observation, a 5xx included: the conditions judge it (the default is
``[STATUS] == 200``). The probe errs (ERROR) only when no response came:

- cannot connect (refused, DNS, unreachable) and timeouts: temporary, a retry may help;
- certificate verification failed, other TLS failures, too many redirects, a body over
  the size cap: permanent, the target or the checklist must change.

Credentials are references only (``secret_headers``, ``auth``); plain ``headers`` refuse
the names that carry credentials. Headers we send are never observed; response headers
are, with cookie values masked. Secret-looking query parameters are masked in the URLs
we report.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import httpx
from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..clients.documents import read_capped
from ..errors import ProbeError
from ..hosts import redirect_guard
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register
from ..redaction import public_url as redact_url
from ..secrets import REDACTOR, SecretRef
from ..tls import shared_ssl_context

USER_AGENT = "golive"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def checked_url(value: str, expected: str, auth_hint: str, *, base_only: bool = False) -> str:
    """A probe's target URL, validated: absolute http(s) with a host, no credentials in it
    (they would end up in messages and evidence: ``auth_hint`` says where they go), and
    for a base URL (``base_only``) no query or fragment. ``expected`` completes "write …"."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        raise ValueError(f"write {expected}")
    if url.userinfo:
        raise ValueError(f"credentials in the URL are not allowed; use {auth_hint}")
    if base_only and (url.query or url.fragment):
        raise ValueError("write the base URL only, without ?query or #fragment")
    return value


_SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "private-token",
        "x-auth-token",
    }
)
_SENSITIVE_HEADER_SUFFIXES = ("-token", "-api-key", "-apikey", "-secret", "-password")
def is_sensitive_header(name: str) -> bool:
    lowered = name.strip().lower()
    return lowered in _SENSITIVE_HEADERS or lowered.endswith(_SENSITIVE_HEADER_SUFFIXES)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BasicAuth(_Strict):
    username: str = Field(min_length=1)
    password: SecretRef


class HttpAuth(_Strict):
    """Exactly one of ``bearer: {env: …}`` or ``basic: {username, password: {env: …}}``."""

    bearer: SecretRef | None = None
    basic: BasicAuth | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> HttpAuth:
        if (self.bearer is None) == (self.basic is None):
            raise ValueError("give exactly one of 'bearer' or 'basic'")
        return self


class ClientCert(_Strict):
    """A client certificate for mutual TLS (PEM; the key may be in ``cert_file``)."""

    cert_file: str = Field(min_length=1)
    key_file: str | None = None


class HttpConfig(ProbeConfig):
    type: Literal["http"] = "http"
    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, SecretRef] = Field(default_factory=dict)
    body: str | None = None
    #: A JSON request body; written ``json:`` in the checklist.
    json_body: Any = Field(default=None, alias="json")
    auth: HttpAuth | None = None
    follow_redirects: bool = True
    max_redirects: int = Field(default=10, ge=0, le=100)
    verify_tls: bool = True
    #: CA bundle (PEM) to verify the server with instead of the public roots; relative
    #: paths resolve against the checklist's folder.
    ca_file: str | None = None
    client_cert: ClientCert | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return checked_url(
            value, "an absolute http:// or https:// URL", "auth.basic with password: {env: VARIABLE}"
        )

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("headers")
    @classmethod
    def _no_credentials_in_headers(cls, value: dict[str, str]) -> dict[str, str]:
        sensitive = [name for name in value if is_sensitive_header(name)]
        if sensitive:
            raise ValueError(
                f"header {', '.join(sensitive)} carries credentials and must not be written "
                "inline; move it to secret_headers: {Name: {env: VARIABLE}} (or use auth)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HttpConfig:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give either 'body' or 'json', not both")
        plain = {name.lower() for name in self.headers}
        twice = [name for name in self.secret_headers if name.lower() in plain]
        if twice:
            raise ValueError(f"header {', '.join(twice)} is in both headers and secret_headers")
        if self.auth is not None and any(n.lower() == "authorization" for n in self.secret_headers):
            raise ValueError("give 'auth' or an Authorization secret header, not both")
        return self


async def _gather(config: HttpConfig, context: ProbeContext) -> Observation:
    url = httpx.URL(config.url)
    headers = {"User-Agent": USER_AGENT, **config.headers}
    for name, ref in config.secret_headers.items():
        headers[name] = ref.resolve()
    auth: httpx.BasicAuth | None = None
    if config.auth is not None and config.auth.bearer is not None:
        headers["Authorization"] = f"Bearer {config.auth.bearer.resolve()}"
    elif config.auth is not None and config.auth.basic is not None:
        basic = config.auth.basic
        password = basic.password.resolve()
        # A server that echoes request headers would otherwise show the encoded pair.
        REDACTOR.register(base64.b64encode(f"{basic.username}:{password}".encode()).decode())
        auth = httpx.BasicAuth(basic.username, password)
    # Loading CA bundles reads files and parses hundreds of certificates: not on the loop.
    ssl_context = await asyncio.to_thread(_ssl_context, config, context.base_dir)
    hooks = {
        "request": [
            strip_on_cross_origin(url, tuple(config.secret_headers)),
            redirect_guard(context.allowed_hosts),
        ]
    }
    started = time.perf_counter()
    try:
        async with (
            httpx.AsyncClient(
                verify=ssl_context,
                timeout=context.timeout,
                follow_redirects=config.follow_redirects,
                max_redirects=config.max_redirects,
                event_hooks=hooks,
            ) as client,
            client.stream(
                config.method,
                url,
                headers=headers,
                auth=auth,
                content=config.body,
                json=config.json_body,
            ) as response,
        ):
            # The certificate must be read while the connection is still open.
            certificate = _peer_certificate(response)
            content = await read_capped(response, context.max_body_bytes, public_url(url))
    except httpx.TooManyRedirects:
        raise ProbeError(
            f"too many redirects: more than {config.max_redirects} from {public_url(url)}"
        ) from None
    except httpx.TimeoutException as exc:
        raise ProbeError(
            f"{failure_target(exc, url)}: timed out after {context.timeout:g}s {timeout_phase(exc)}",
            temporary=True,
        ) from None
    # httpcore does not map a TLS alert that arrives after the handshake (a server that
    # wants a client certificate, with TLS 1.3): that comes as a bare ssl.SSLError.
    except (httpx.HTTPError, ssl.SSLError) as exc:
        raise transport_error(exc, failure_target(exc, url)) from None
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    now = context.now()

    values: dict[str, Any] = {
        "CONNECTED": True,
        "STATUS": response.status_code,
        "RESPONSE_TIME": elapsed_ms,
        "BODY": _body(content, response),
        "HEADERS": _observed_headers(response.headers),
        "REDIRECTS": len(response.history),
        "FINAL_URL": public_url(response.url),
    }
    if certificate is not None:
        expiry = certificate.not_valid_after_utc
        values["CERT_DAYS"] = round((expiry - now).total_seconds() / 86400, 3)
        values["CERT_EXPIRY"] = expiry.isoformat()
    redirects = f" after {len(response.history)} redirect(s)" if response.history else ""
    message = f"HTTP {response.status_code} {response.reason_phrase} in {elapsed_ms:g} ms{redirects}"
    source = public_url(url)
    return Observation(values=values, evidence=Evidence(source, now, source), message=message)


def _ssl_context(config: HttpConfig, base_dir: Path) -> ssl.SSLContext:
    if config.client_cert is None and not config.ca_file:
        return shared_ssl_context(config.verify_tls)
    if not config.verify_tls:
        context = httpx.create_ssl_context(verify=False)
    elif config.ca_file:
        path = _resolve(config.ca_file, base_dir)
        try:
            context = ssl.create_default_context(cafile=str(path))
        except FileNotFoundError:
            raise ProbeError(f"CA bundle not found: {path}") from None
        except (OSError, ssl.SSLError) as exc:  # a file that holds no PEM certificate
            raise ProbeError(f"cannot load the CA bundle {path}: {exc}") from None
    else:
        context = httpx.create_ssl_context()
    if config.client_cert is not None:
        cert = _resolve(config.client_cert.cert_file, base_dir)
        key_file = config.client_cert.key_file
        key = _resolve(key_file, base_dir) if key_file else None
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ProbeError(f"cannot load the client certificate {cert}: {exc}") from None
    return context


def _resolve(location: str, base_dir: Path) -> Path:
    path = Path(location).expanduser()
    return path if path.is_absolute() else base_dir / path


def strip_on_cross_origin(
    origin: httpx.URL, names: tuple[str, ...]
) -> Callable[[httpx.Request], Awaitable[None]]:
    """httpx drops Authorization when a redirect leaves the origin; do the same for ours."""

    async def hook(request: httpx.Request) -> None:
        if (request.url.scheme, request.url.host, request.url.port) != (
            origin.scheme,
            origin.host,
            origin.port,
        ):
            for name in names:
                request.headers.pop(name, None)

    return hook


def _peer_certificate(response: httpx.Response) -> x509.Certificate | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    # The binary form is there also when verification is off (the dict form is not).
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return x509.load_der_x509_certificate(der) if der else None


def _body(content: bytes, response: httpx.Response) -> Any:
    try:
        text = content.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = content.decode("utf-8", errors="replace")
    content_type = response.headers.get("content-type", "").lower()
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _observed_headers(headers: httpx.Headers) -> dict[str, str]:
    observed: dict[str, str] = {}
    for raw_name, raw_value in headers.multi_items():
        name, value = raw_name.lower(), raw_value
        if name == "set-cookie":  # session cookies are credentials too
            cookie, semicolon, attributes = raw_value.partition(";")
            value = f"{cookie.partition('=')[0]}=[REDACTED]{semicolon}{attributes}"
        observed[name] = f"{observed[name]}, {value}" if name in observed else value
    return observed


def public_url(url: httpx.URL | str) -> str:
    """The URL without userinfo and with the values of secret-named query parameters masked."""
    return redact_url(str(url))


def failure_target(exc: BaseException, fallback: httpx.URL) -> str:
    """host:port of the request that failed (after redirects it may not be the first)."""
    try:
        url = exc.request.url if isinstance(exc, httpx.RequestError) else fallback
    except RuntimeError:  # no request attached
        url = fallback
    return f"{url.host}:{url.port or _DEFAULT_PORTS.get(url.scheme, 0)}"


def timeout_phase(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "while connecting"
    if isinstance(exc, httpx.WriteTimeout):
        return "while sending the request"
    if isinstance(exc, httpx.PoolTimeout):
        return "waiting for a connection"
    return "waiting for the response"


def transport_error(exc: BaseException, target: str) -> ProbeError:
    """Tell TLS problems (permanent) from an unreachable or broken connection (temporary)."""
    cause: BaseException | None = exc
    deepest_os_error: OSError | None = None
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = str(cause.verify_message)
            hint = "; set ca_file to the CA that issued it" if "issuer" in reason else ""
            return ProbeError(f"certificate verify failed: {reason} ({target}){hint}")
        if isinstance(cause, ssl.SSLError):
            return ProbeError(f"TLS with {target} failed: {cause.reason or cause}")
        if isinstance(cause, OSError):
            deepest_os_error = cause
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.DecodingError):
        return ProbeError(f"{target}: {exc}")
    if isinstance(exc, httpx.ReadError):
        return ProbeError(f"{target}: the connection broke while reading the response", temporary=True)
    if isinstance(exc, httpx.WriteError):
        return ProbeError(f"{target}: the connection broke while sending the request", temporary=True)
    if not isinstance(exc, httpx.ConnectError):  # e.g. the server closed without answering
        return ProbeError(f"{target}: {type(exc).__name__}: {exc}", temporary=True)
    if isinstance(deepest_os_error, ConnectionRefusedError):
        reason = "connection refused"
    elif isinstance(deepest_os_error, socket.gaierror):
        reason = f"DNS lookup failed: {deepest_os_error.strerror}"
    elif deepest_os_error is not None and deepest_os_error.strerror:
        reason = deepest_os_error.strerror
    else:
        reason = str(exc) or type(exc).__name__
    return ProbeError(f"cannot connect to {target}: {reason}", temporary=True)


HTTP = register(
    ProbeType(
        name="http",
        summary="One HTTP(S) request: status, time, body, headers, certificate expiry.",
        config_model=HttpConfig,
        gather=_gather,
        values=(
            Value("STATUS", "HTTP status code of the final response"),
            Value("RESPONSE_TIME", "time for the request, redirects and body", "ms"),
            Value("BODY", "response body: parsed JSON if it is JSON, else text", structured=True),
            Value("HEADERS", "response headers, names in lower case", structured=True),
            Value("CERT_DAYS", "days until the server certificate expires (https)", "days"),
            Value("CERT_EXPIRY", "when the server certificate expires, ISO 8601 (https)"),
            Value("REDIRECTS", "redirects followed"),
            Value("FINAL_URL", "URL of the final response"),
            Value("CONNECTED", "whether the server answered"),
        ),
        default_conditions=("[STATUS] == 200",),
        example={
            "type": "http",
            "url": "https://erp.example.com/api/health",
            "secret_headers": {"X-Api-Key": {"env": "ERP_API_KEY"}},
        },
    )
)
