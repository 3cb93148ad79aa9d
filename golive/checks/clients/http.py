"""The HTTP toolkit every client and probe shares: one of each.

- TLS: :func:`ssl_context` builds every context from (verify, CA file, client
  certificate); the common ones are built once per process and shared (loading the
  system trust store costs tens of milliseconds of CPU, a good part of a second on a busy
  machine; ``ssl.SSLContext`` may be shared).
- Target URLs: :func:`checked_url` (absolute http(s), no credentials in it),
  :func:`public_url` (what messages and evidence show).
- Auth: :class:`HttpAuth` (bearer or basic, by reference),
  :func:`strip_on_cross_origin` (credentials do not follow a redirect elsewhere).
- Errors: :func:`transport_error` maps a failed request to the one diagnosis (TLS:
  permanent; unreachable or broken connection: temporary); :func:`shorten` cuts a
  server's own words about an error to one line.
- Paths: :func:`resolve_path` resolves a file a checklist names against its folder.
- Connections: :func:`pooled_client`, a client on the run's connection pool for its TLS
  settings (:class:`TlsSettings`): the probes of a run reuse connections and TLS contexts
  instead of each building its own.

The redirect guard is :func:`golive.checks.hosts.redirect_guard`; the capped read is
:func:`golive.checks.clients.documents.read_capped`.
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
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import PermanentProbeError, ProbeError, TemporaryProbeError
from ..probe import RunShared
from ..redaction import public_url as redact_url
from ..secrets import SecretRef


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


#: Probes in flight per connection pool (see :class:`ConnectionPool`).
SHARD_SIZE = 32
#: A shard opens as many connections as its probes ask for at once, and keeps some open
#: for the probes that come after.
POOL_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=SHARD_SIZE, keepalive_expiry=30)


class _Shard:
    """One httpx connection pool (direct, and one per proxy the environment names)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        # A client built the usual way decides the transports; the probes' clients reuse them.
        template = httpx.AsyncClient(verify=context, limits=POOL_LIMITS)
        self.transport = template._transport
        self.mounts: Mapping[str, httpx.AsyncBaseTransport | None] = {
            pattern.pattern: transport for pattern, transport in template._mounts.items()
        }
        self.in_use = 0

    async def aclose(self) -> None:
        await self.transport.aclose()
        for transport in self.mounts.values():
            if transport is not None:
                await transport.aclose()


class ConnectionPool:
    """Connections to any target, with one TLS setting, shared by the probes of a run.

    Each probe still gets a client of its own (:meth:`client`): its redirects, hooks and
    cookies stay its own; only connections are shared. Proxies from the environment
    (``HTTPS_PROXY``, ``NO_PROXY``) apply as they do to a client of its own.

    Sharded: httpcore's pool walks all its connections and waiting requests on every
    request and every response, so one pool under a thousand probes at once costs
    quadratic CPU (measured: 22 ms per request, bench/scale.py). A probe takes the first
    shard with fewer than :data:`SHARD_SIZE` probes in flight, so probes one after
    another reuse the first shard's connections."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._shards: list[_Shard] = []

    @asynccontextmanager
    async def client(self, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
        """A client on these connections for the block (not to be closed: that would
        close the shard)."""
        shard = next((s for s in self._shards if s.in_use < SHARD_SIZE), None)
        if shard is None:
            shard = _Shard(self._context)
            self._shards.append(shard)
        shard.in_use += 1
        try:
            yield httpx.AsyncClient(transport=shard.transport, mounts=shard.mounts, **settings)
        finally:
            shard.in_use -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


async def _pool(tls: TlsSettings) -> ConnectionPool:
    # Loading CA bundles reads files and parses hundreds of certificates: not on the loop.
    return ConnectionPool(await asyncio.to_thread(tls.context))


@asynccontextmanager
async def pooled_client(
    tls: TlsSettings, shared: RunShared | None, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client (``settings``: httpx.AsyncClient's) on the run's pool for ``tls``, or,
    outside a run (``shared`` None), on a pool of its own that is closed afterwards."""
    if shared is None:
        pool = await _pool(tls)
        try:
            async with pool.client(**settings) as client:
                yield client
        finally:
            await pool.aclose()
        return
    pool = await shared.get(("http", tls), lambda: _pool(tls), ConnectionPool.aclose)
    async with pool.client(**settings) as client:
        yield client


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
