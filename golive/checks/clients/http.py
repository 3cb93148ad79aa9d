"""The HTTP toolkit every client and probe shares: one of each.

Most clients speak httpx; the http probe family, the one that scales to thousands of
items, speaks aiohttp (a third of httpx's CPU per request), and has its counterparts here.

- TLS: :func:`ssl_context` builds every context from (verify, CA file, client
  certificate); the common ones are built once per process and shared (loading the
  system trust store costs tens of milliseconds of CPU, a good part of a second on a busy
  machine; ``ssl.SSLContext`` may be shared). Both libraries take these contexts.
- Target URLs: :func:`checked_url` (absolute http(s), no credentials in it),
  :func:`public_url` (what messages and evidence show).
- Auth: :class:`HttpAuth` (bearer or basic, by reference),
  :func:`strip_on_cross_origin` (credentials do not follow a redirect elsewhere; httpx).
- Errors: :func:`transport_error` maps a failed request to the one diagnosis (TLS:
  permanent; unreachable or broken connection: temporary), and
  :func:`transport_error_aiohttp` the same for aiohttp in the same words;
  :func:`shorten` cuts a server's own words about an error to one line.
- Paths: :func:`resolve_path` resolves a file a checklist names against its folder.
- Connections (aiohttp): :func:`pooled_session`, the run's session for a TLS setting
  (:class:`TlsSettings`): the probes of a run reuse connections and TLS contexts instead
  of each building its own; :func:`peer_certificate`, the server certificate a response
  came with.

The redirect guard is :func:`golive.checks.hosts.redirect_guard` (httpx; the http family
checks each hop with :func:`golive.checks.hosts.check_hop`); the capped read is
:func:`golive.checks.clients.documents.read_capped` (and ``read_capped_aiohttp``).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import PermanentProbeError, ProbeError, TemporaryProbeError
from ..probe import RunShared
from ..redaction import public_url as redact_url
from ..secrets import SecretRef

if TYPE_CHECKING:  # aiohttp is imported when the http family first probes, not with the checklist
    import aiohttp
    from aiohttp.connector import Connection
    from yarl import URL


@functools.cache
def shared_ssl_context(verify: bool = True) -> ssl.SSLContext:
    """The public roots (``verify``), or a context that checks nothing."""
    return httpx.create_ssl_context(verify=verify)


async def shared_ssl_context_async(verify: bool = True) -> ssl.SSLContext:
    """:func:`shared_ssl_context`, built off the event loop the first time."""
    return await asyncio.to_thread(shared_ssl_context, verify)


def ssl_context(
    *,
    verify: bool = True,
    ca_file: Path | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
) -> ssl.SSLContext:
    """The one SSL-context factory: the shared public roots (or no verification), or a
    context of its own with the checklist's CA bundle and client certificate. A file that
    is missing or holds no PEM certificate is a :class:`ProbeError` naming it."""
    if client_cert is None and ca_file is None:
        return shared_ssl_context(verify)
    if not verify:
        context = httpx.create_ssl_context(verify=False)
    elif ca_file is not None:
        try:
            context = ssl.create_default_context(cafile=str(ca_file))
        except FileNotFoundError:
            raise PermanentProbeError(f"CA bundle not found: {ca_file}") from None
        except (OSError, ssl.SSLError) as exc:  # a file that holds no PEM certificate
            raise PermanentProbeError(f"cannot load the CA bundle {ca_file}: {exc}") from None
    else:
        context = httpx.create_ssl_context()
    if client_cert is not None:
        try:
            context.load_cert_chain(client_cert, client_key)
        except (OSError, ssl.SSLError) as exc:
            raise PermanentProbeError(f"cannot load the client certificate {client_cert}: {exc}") from None
    return context


@dataclass(frozen=True)
class TlsSettings:
    """What a connection's TLS depends on: probes with equal settings share a pool."""

    verify: bool = True
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None

    def context(self) -> ssl.SSLContext:
        return ssl_context(
            verify=self.verify, ca_file=self.ca_file, client_cert=self.client_cert, client_key=self.client_key
        )


#: Seconds an idle connection of a run's session stays open for the probes that come after.
KEEPALIVE_SECONDS = 30


@dataclass(frozen=True)
class HttpSession:
    """An aiohttp session on the connections of one TLS setting (any target), and the
    proxies the environment named when it was opened (``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``ALL_PROXY``, ``NO_PROXY``).

    It keeps no cookies: a cookie one probe was given is not sent by the next. Proxies
    are looked up here, not by aiohttp's ``trust_env``: that also sends credentials from
    ``~/.netrc`` (which no checklist names and the redactor does not know), and reads the
    environment in a thread for every request."""

    session: aiohttp.ClientSession
    proxies: Mapping[str, str]

    def proxy_for(self, url: URL) -> str | None:
        """The proxy for a request to ``url``, or None to connect directly."""
        if not self.proxies:
            return None
        proxy = self.proxies.get(url.scheme) or self.proxies.get("all")
        if proxy is None or (url.host and _bypass_proxy(f"{url.host}:{url.port}", self.proxies)):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    async def aclose(self) -> None:
        await self.session.close()


def _bypass_proxy(host: str, proxies: Mapping[str, str]) -> bool:
    """Whether ``NO_PROXY`` names ``host`` (``host:port``; an entry matches the host, its
    subdomains, or host and port)."""
    # Not in the type stubs; aiohttp imports the module anyway.
    from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

    return bool(proxy_bypass_environment(host, dict(proxies)))


async def _open_session(tls: TlsSettings) -> HttpSession:
    # Loading CA bundles reads files and parses hundreds of certificates: not on the loop.
    context = await asyncio.to_thread(tls.context)
    from urllib.request import getproxies_environment

    import aiohttp

    proxies = {scheme: url for scheme, url in getproxies_environment().items() if url}
    connector = aiohttp.TCPConnector(ssl=context, limit=0, keepalive_timeout=KEEPALIVE_SECONDS)
    session = aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        response_class=_certified_response(),
        # A body we send goes as given, without a Content-Type the checklist did not write.
        skip_auto_headers=("Content-Type",),
    )
    return HttpSession(session, proxies)


@asynccontextmanager
async def pooled_session(tls: TlsSettings, shared: RunShared | None) -> AsyncIterator[HttpSession]:
    """The run's session for ``tls`` (its connections shared by the run's probes), or,
    outside a run (``shared`` None), a session of its own that is closed afterwards."""
    if shared is None:
        own = await _open_session(tls)
        try:
            yield own
        finally:
            await own.aclose()
        return
    yield await shared.get(("http", tls), lambda: _open_session(tls), HttpSession.aclose)


@functools.cache
def _certified_response() -> type[aiohttp.ClientResponse]:
    import aiohttp

    class CertifiedResponse(aiohttp.ClientResponse):
        """A response that keeps the server certificate (DER) of its connection: aiohttp
        gives the connection back to the pool as soon as the whole body is in, which
        can be before the caller sees the response."""

        peer_certificate: bytes | None = None

        async def start(self, connection: Connection) -> aiohttp.ClientResponse:
            transport = connection.transport
            ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
            # The binary form is there also when verification is off (the dict form is not).
            if ssl_object is not None:
                self.peer_certificate = ssl_object.getpeercert(binary_form=True)
            return await super().start(connection)

    return CertifiedResponse


def peer_certificate(response: aiohttp.ClientResponse) -> bytes | None:
    """The DER certificate of the server that sent ``response`` (https), else None."""
    der = getattr(response, "peer_certificate", None)
    return der if isinstance(der, bytes) and der else None


def resolve_path(location: str, base_dir: Path) -> Path:
    """A file a checklist names: ``~`` expanded, relative paths against its folder."""
    path = Path(location).expanduser()
    return path if path.is_absolute() else base_dir / path


def shorten(text: str, limit: int = 300) -> str:
    """A server's own words on one line, cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first (``raise … from`` or raised while handling)."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def tls_failure(exc: BaseException, target: str, ca_field: str = "ca_file") -> ProbeError | None:
    """The TLS failure behind ``exc``, permanent and naming ``target``; None when the
    connection failed otherwise. ``ca_field``: the checklist field that takes a CA."""
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = str(cause.verify_message)
            untrusted = "issuer" in reason or "self-signed" in reason
            hint = f"; set {ca_field} to the CA that issued it" if untrusted else ""
            return PermanentProbeError(f"certificate verify failed: {reason} ({target}){hint}")
        if isinstance(cause, ssl.SSLError):
            return PermanentProbeError(f"TLS with {target} failed: {cause.reason or cause}")
    return None


def connect_failure_reason(exc: BaseException) -> str | None:
    """Why a connection failed, from the deepest OS error behind ``exc``: refused, a DNS
    lookup that failed, or the system's words; None when no OS error is behind it."""
    deepest = next((c for c in reversed(_chain(exc)) if isinstance(c, OSError)), None)
    if isinstance(deepest, ConnectionRefusedError):
        return "connection refused"
    if isinstance(deepest, socket.gaierror):
        return f"DNS lookup failed: {deepest.strerror}"
    if deepest is not None and deepest.strerror:
        return deepest.strerror
    return None


def transport_error(exc: BaseException, target: str) -> ProbeError:
    """Tell TLS problems (permanent) from an unreachable or broken connection (temporary)."""
    tls = tls_failure(exc, target)
    if tls is not None:
        return tls
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.DecodingError):
        return PermanentProbeError(f"{target}: {exc}")
    if isinstance(exc, httpx.ReadError):
        return TemporaryProbeError(f"{target}: the connection broke while reading the response")
    if isinstance(exc, httpx.WriteError):
        return TemporaryProbeError(f"{target}: the connection broke while sending the request")
    if not isinstance(exc, httpx.ConnectError):  # e.g. the server closed without answering
        return TemporaryProbeError(f"{target}: {type(exc).__name__}: {exc}")
    reason = connect_failure_reason(exc) or str(exc) or type(exc).__name__
    return TemporaryProbeError(f"cannot connect to {target}: {reason}")


def url_target(url: URL) -> str:
    """host:port of an aiohttp request's URL (the default port when it names none)."""
    return f"{url.host}:{url.port or _DEFAULT_PORTS.get(url.scheme, 0)}"


def timeout_phase_aiohttp(exc: aiohttp.ServerTimeoutError) -> str:
    """:func:`timeout_phase` for aiohttp: its connect timeout covers the TCP connection and
    the TLS handshake; its socket read timeout each wait for the server."""
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "while connecting"
    return "waiting for the response"


def transport_error_aiohttp(exc: BaseException, target: str) -> ProbeError:
    """:func:`transport_error` for aiohttp, in the same words: TLS problems permanent, an
    unreachable or broken connection temporary."""
    import aiohttp
    from aiohttp.http_exceptions import ContentEncodingError

    # aiohttp wraps the OS's and the ssl module's errors (raised ``from`` them; its own
    # ClientConnectorSSLError even subclasses ssl.SSLError without its details).
    underlying = next((c for c in _chain(exc) if not isinstance(c, aiohttp.ClientError)), None)
    tls = tls_failure(underlying, target) if underlying is not None else None
    if tls is not None:
        return tls
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, unreachable, proxy
        reason = connect_failure_reason(exc) or str(exc) or type(exc).__name__
        return TemporaryProbeError(f"cannot connect to {target}: {reason}")
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return PermanentProbeError(f"{target}: {exc}")
    if isinstance(exc, aiohttp.ClientPayloadError) and any(
        isinstance(c, ContentEncodingError) for c in _chain(exc)
    ):
        return PermanentProbeError(f"{target}: {exc}")
    if isinstance(exc, aiohttp.ClientConnectionResetError):  # "Cannot write to closing transport"
        return TemporaryProbeError(f"{target}: the connection broke while sending the request")
    if isinstance(exc, aiohttp.ClientOSError | aiohttp.ClientPayloadError):
        return TemporaryProbeError(f"{target}: the connection broke while reading the response")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return TemporaryProbeError(f"{target}: the server closed the connection without answering")
    if isinstance(exc, aiohttp.ClientResponseError):  # a status line or headers aiohttp cannot read
        return TemporaryProbeError(f"{target}: not a valid HTTP response: {exc.message}")
    return TemporaryProbeError(f"{target}: {type(exc).__name__}: {exc}")
