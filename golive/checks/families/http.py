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

Spoken through aiohttp (a third of httpx's CPU per request; the family that scales to
thousands of items), on the run's session for the probe's TLS setting
(:func:`~golive.checks.clients.http.pooled_session`). Redirects are followed here, one hop
at a time: each hop is checked against ``allowed_hosts``, credentials stay with their
origin, and the cookies a redirect sets go to the next hop only (the session keeps none).
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from ..clients.documents import read_capped_aiohttp
from ..clients.http import (
    USER_AGENT,
    ClientCert,
    HttpAuth,
    TlsSettings,
    checked_url,
    peer_certificate,
    pooled_session,
    public_url,
    resolve_path,
    timeout_phase_aiohttp,
    transport_error_aiohttp,
    url_target,
)
from ..errors import PermanentProbeError, TemporaryProbeError
from ..hosts import check_hop
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register
from ..secret_names import is_secret_header
from ..secrets import REDACTOR, SecretRef

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # imported when the first probe runs (load_client), not when the checklist loads
    import aiohttp
    from yarl import URL


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
        sensitive = [name for name in value if is_secret_header(name)]
        if sensitive:
            raise ValueError(
                f"header {', '.join(sensitive)} carries credentials and must not be written "
                "inline; move it to secret_headers: {Name: {env: VARIABLE}} (or use auth)"
            )
        return value

    @classmethod
    def load_client(cls) -> None:
        import aiohttp  # noqa: F401

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


#: Statuses that redirect, when they say where to (``Location``).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: A redirect's own body is read (so that its connection serves the next request) up to
#: this size; a larger one is not read, and its connection is closed.
REDIRECT_BODY_READ = 64 * 1024


def _request(config: HttpConfig) -> tuple[dict[str, str], bytes | None]:
    """The first request's headers (credentials resolved) and body."""
    headers = {"User-Agent": USER_AGENT, **config.headers}
    for name, ref in config.secret_headers.items():
        headers[name] = ref.resolve()
    if config.auth is not None and config.auth.bearer is not None:
        headers["Authorization"] = f"Bearer {config.auth.bearer.resolve()}"
    elif config.auth is not None and config.auth.basic is not None:
        basic = config.auth.basic
        encoded = base64.b64encode(f"{basic.username}:{basic.password.resolve()}".encode()).decode()
        # A server that echoes request headers would otherwise show the encoded pair.
        REDACTOR.register(encoded)
        headers["Authorization"] = f"Basic {encoded}"
    if config.body is not None:
        return headers, config.body.encode()
    if config.json_body is not None:
        if not _named(headers, "content-type"):
            headers["Content-Type"] = "application/json"
        compact = json.dumps(config.json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return headers, compact.encode()
    return headers, None


async def _gather(config: HttpConfig, context: ProbeContext) -> Observation:
    import aiohttp
    from yarl import URL

    url = URL(config.url)
    source = public_url(str(url))
    headers, data = _request(config)
    timeout = aiohttp.ClientTimeout(
        total=None, connect=context.timeout, sock_connect=context.timeout, sock_read=context.timeout
    )
    hop, method, redirects = url, str(config.method), 0
    cookies: aiohttp.CookieJar | None = None  # those the redirects set, for the next hops
    try:
        async with pooled_session(_tls(config, context.base_dir), context.shared) as http:
            started = time.perf_counter()  # the request's time, not the session's set-up
            while True:
                check_hop(hop.host or "", context.allowed_hosts)
                async with http.session.request(
                    method,
                    hop,
                    headers=headers,
                    data=data,
                    allow_redirects=False,
                    timeout=timeout,
                    proxy=http.proxy_for(hop),
                ) as response:
                    # Every request at debug level, as operators read them from other HTTP
                    # clients (the log's redaction masks the secrets a URL may carry).
                    version = response.version
                    log.debug(
                        'HTTP Request: %s %s "HTTP/%s %s %s"',
                        method,
                        hop,
                        f"{version.major}.{version.minor}" if version else "?",
                        response.status,
                        response.reason,
                    )
                    location = response.headers.get("location")
                    if not (config.follow_redirects and response.status in REDIRECT_STATUSES and location):
                        certificate = peer_certificate(response)
                        content = await read_capped_aiohttp(response, context.max_body_bytes, source)
                        break
                    if redirects >= config.max_redirects:
                        raise PermanentProbeError(
                            f"too many redirects: more than {config.max_redirects} from {source}"
                        )
                    if response.cookies:
                        cookies = cookies or aiohttp.CookieJar(unsafe=True)
                        cookies.update_cookies(response.cookies, response.url)
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) <= REDIRECT_BODY_READ:
                        await response.read()
                redirects += 1
                next_hop = _redirect_url(hop, location)
                method, data = _redirect_method(method, response.status, data)
                _redirect_headers(headers, url, hop, next_hop, tuple(config.secret_headers), cookies)
                hop = next_hop
    except aiohttp.ServerTimeoutError as exc:
        raise TemporaryProbeError(
            f"{url_target(hop)}: timed out after {context.timeout:g}s {timeout_phase_aiohttp(exc)}",
        ) from None
    except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
        raise transport_error_aiohttp(exc, url_target(hop)) from None
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    now = context.now()

    values: dict[str, Any] = {
        "CONNECTED": True,
        "STATUS": response.status,
        "RESPONSE_TIME": elapsed_ms,
        "BODY": _body(content, response),
        "HEADERS": _observed_headers(response.headers.items()),
        "REDIRECTS": redirects,
        "FINAL_URL": public_url(str(response.url)),
    }
    if certificate is not None:
        from cryptography import x509  # by the first TLS answer, not when the checklist loads

        expiry = x509.load_der_x509_certificate(certificate).not_valid_after_utc
        values["CERT_DAYS"] = round((expiry - now).total_seconds() / 86400, 3)
        values["CERT_EXPIRY"] = expiry.isoformat()
    followed = f" after {redirects} redirect(s)" if redirects else ""
    message = f"HTTP {response.status} {response.reason or ''} in {elapsed_ms:g} ms{followed}"
    return Observation(values=values, evidence=Evidence(source, now, source), message=message)


def _named(headers: dict[str, str], name: str) -> bool:
    return any(key.lower() == name for key in headers)


def _drop(headers: dict[str, str], names: Iterable[str]) -> None:
    lowered = {name.lower() for name in names}
    for key in [key for key in headers if key.lower() in lowered]:
        del headers[key]


def _redirect_url(hop: URL, location: str) -> URL:
    from yarl import URL

    try:
        target = hop.join(URL(location))
    except ValueError:
        raise TemporaryProbeError(
            f"{url_target(hop)}: redirected to {location!r}, which is not a valid URL"
        ) from None
    if target.scheme not in ("http", "https"):
        raise PermanentProbeError(
            f"{url_target(hop)}: redirected to an unsupported protocol '{target.scheme}://'"
        )
    return target


def _redirect_method(method: str, status: int, data: bytes | None) -> tuple[str, bytes | None]:
    """The next hop's method and body, as browsers (and httpx) do: 303 and 302 turn into
    GET, a POST answered with 301 too; 307 and 308 repeat the request."""
    if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
        return "GET", None
    return method, data


def _redirect_headers(
    headers: dict[str, str],
    origin: URL,
    hop: URL,
    next_hop: URL,
    secret_names: tuple[str, ...],
    cookies: aiohttp.CookieJar | None,
) -> None:
    """The next hop's headers, changed in place: credentials do not follow a redirect to
    another origin (the secret headers: another than the checklist's URL; Authorization:
    another than the last hop's, an upgrade to https on the same host excepted), and the
    cookies are those the redirects set for the next hop."""
    if _origin(next_hop) != _origin(origin):
        _drop(headers, secret_names)
    if _origin(next_hop) != _origin(hop):
        _drop(headers, ("Host",))
        upgrade = (hop.scheme, hop.port, next_hop.scheme, next_hop.port) == ("http", 80, "https", 443)
        if not (upgrade and hop.host == next_hop.host):
            _drop(headers, ("Authorization",))
    _drop(headers, ("Cookie",))
    if cookies is not None:
        sent = cookies.filter_cookies(next_hop)
        if sent:
            headers["Cookie"] = "; ".join(f"{name}={morsel.coded_value}" for name, morsel in sent.items())


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return url.scheme, url.host, url.port


def _tls(config: HttpConfig, base_dir: Path) -> TlsSettings:
    cert = config.client_cert
    return TlsSettings(
        verify=config.verify_tls,
        ca_file=resolve_path(config.ca_file, base_dir) if config.ca_file else None,
        client_cert=resolve_path(cert.cert_file, base_dir) if cert else None,
        client_key=resolve_path(cert.key_file, base_dir) if cert and cert.key_file else None,
    )


def _body(content: bytes, response: aiohttp.ClientResponse) -> Any:
    try:
        text = content.decode(response.charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = content.decode("utf-8", errors="replace")
    content_type = response.headers.get("content-type", "").lower()
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _observed_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    observed: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name, value = raw_name.lower(), raw_value
        if name == "set-cookie":  # session cookies are credentials too
            cookie, semicolon, attributes = raw_value.partition(";")
            value = f"{cookie.partition('=')[0]}=[REDACTED]{semicolon}{attributes}"
        observed[name] = f"{observed[name]}, {value}" if name in observed else value
    return observed


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
