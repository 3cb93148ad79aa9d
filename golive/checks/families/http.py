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

import base64
import json
import ssl
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import Field, field_validator, model_validator

from ..clients.documents import read_capped
from ..clients.http import (
    USER_AGENT,
    ClientCert,
    HttpAuth,
    TlsSettings,
    checked_url,
    failure_target,
    pooled_client,
    public_url,
    resolve_path,
    strip_on_cross_origin,
    timeout_phase,
    transport_error,
)
from ..errors import PermanentProbeError, TemporaryProbeError
from ..hosts import redirect_guard
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register
from ..secret_names import is_secret_header
from ..secrets import REDACTOR, SecretRef

if TYPE_CHECKING:
    from cryptography import x509


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
    hooks = {
        "request": [
            strip_on_cross_origin(url, tuple(config.secret_headers)),
            redirect_guard(context.allowed_hosts),
        ]
    }
    try:
        async with pooled_client(
            _tls(config, context.base_dir),
            context.shared,
            timeout=context.timeout,
            follow_redirects=config.follow_redirects,
            max_redirects=config.max_redirects,
            event_hooks=hooks,
        ) as client:
            started = time.perf_counter()  # the request's time, not the pool's set-up
            async with client.stream(
                config.method, url, headers=headers, auth=auth, content=config.body, json=config.json_body
            ) as response:
                # The certificate must be read while the connection is still open.
                certificate = _peer_certificate(response)
                content = await read_capped(response, context.max_body_bytes, public_url(url))
    except httpx.TooManyRedirects:
        raise PermanentProbeError(
            f"too many redirects: more than {config.max_redirects} from {public_url(url)}"
        ) from None
    except httpx.TimeoutException as exc:
        raise TemporaryProbeError(
            f"{failure_target(exc, url)}: timed out after {context.timeout:g}s {timeout_phase(exc)}",
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


def _tls(config: HttpConfig, base_dir: Path) -> TlsSettings:
    cert = config.client_cert
    return TlsSettings(
        verify=config.verify_tls,
        ca_file=resolve_path(config.ca_file, base_dir) if config.ca_file else None,
        client_cert=resolve_path(cert.cert_file, base_dir) if cert else None,
        client_key=resolve_path(cert.key_file, base_dir) if cert and cert.key_file else None,
    )


def _peer_certificate(response: httpx.Response) -> x509.Certificate | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    # The binary form is there also when verification is off (the dict form is not).
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        return None
    from cryptography import x509  # by the first TLS answer, not when the checklist loads

    return x509.load_der_x509_certificate(der)


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
