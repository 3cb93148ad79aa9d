"""Reading report documents (k6 summaries, scanner reports, coverage files) from a file
or an HTTP(S) URL, with a size cap and the time the document was produced.

The produced-at time matters: a report's age is its evidence's age. For files it is the
modification time; for URLs the ``Last-Modified`` header, else the moment of download.
Parsers that find a timestamp inside the document prefer that.
"""

from __future__ import annotations

import email.utils
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel, ConfigDict

from ..errors import PermanentProbeError, TemporaryProbeError, reworded
from ..hosts import redirect_guard
from ..probe import ProbeContext
from ..secrets import SecretRef
from .http import failure_target, resolve_path, shared_ssl_context_async, transport_error

if TYPE_CHECKING:
    import aiohttp


class SourceAuth(BaseModel):
    """Credentials for a report URL, by reference only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bearer: SecretRef | None = None
    username: str | None = None
    password: SecretRef | None = None


@dataclass(frozen=True)
class Document:
    content: bytes
    source: str
    produced_at: datetime


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


async def read_document(location: str, context: ProbeContext, auth: SourceAuth | None = None) -> Document:
    if is_url(location):
        return await _read_url(location, context, auth)
    return _read_file(location, context)


def _read_file(location: str, context: ProbeContext) -> Document:
    path = resolve_path(location, context.base_dir)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise PermanentProbeError(f"report not found: {path}") from None
    except OSError as exc:
        raise PermanentProbeError(f"cannot read report {path}: {exc.strerror}") from None
    if not path.is_file():
        raise PermanentProbeError(f"report {path} is not a file")
    if stat.st_size > context.max_body_bytes:
        raise PermanentProbeError(
            f"report {path} is {stat.st_size} bytes, more than the {context.max_body_bytes} allowed"
        )
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise PermanentProbeError(f"cannot read report {path}: {exc.strerror}") from None
    return Document(content, str(path), datetime.fromtimestamp(stat.st_mtime, UTC))


async def _read_url(location: str, context: ProbeContext, auth: SourceAuth | None) -> Document:
    headers = {"User-Agent": "golive"}
    basic: tuple[str, str] | None = None
    if auth is not None:
        if auth.bearer is not None:
            headers["Authorization"] = f"Bearer {auth.bearer.resolve()}"
        if auth.username is not None and auth.password is not None:
            basic = (auth.username, auth.password.resolve())
    verify = await shared_ssl_context_async()
    try:
        async with (
            httpx.AsyncClient(
                timeout=context.timeout,
                verify=verify,
                follow_redirects=True,
                auth=basic,
                event_hooks={"request": [redirect_guard(context.allowed_hosts)]},
            ) as client,
            client.stream("GET", location, headers=headers) as response,
        ):
            if response.status_code in (401, 403):
                raise PermanentProbeError(f"report {location}: HTTP {response.status_code}, not authorised")
            if response.status_code >= 400:
                raise (TemporaryProbeError if response.status_code >= 500 else PermanentProbeError)(
                    f"report {location}: HTTP {response.status_code}",
                )
            content = await read_capped(response, context.max_body_bytes, location)
            produced_at = _last_modified(response.headers.get("last-modified")) or context.now()
    except httpx.TimeoutException:
        raise TemporaryProbeError(f"report {location}: timed out") from None
    except (httpx.HTTPError, ssl.SSLError) as exc:
        # The shared diagnosis, so every probe words an unreachable server alike
        # ("cannot connect to host:port: connection refused").
        failure = transport_error(exc, failure_target(exc, httpx.URL(location)))
        raise reworded(failure, f"report {location}: {failure.message}") from None
    return Document(content, location, produced_at)


async def read_capped(response: httpx.Response, limit: int, what: str) -> bytes:
    """Read a streamed body, refusing (not truncating) one larger than ``limit``."""
    return await _capped(response.headers.get("content-length"), response.aiter_bytes(), limit, what)


async def read_capped_aiohttp(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """:func:`read_capped` for an aiohttp response: the same limit, the same messages."""
    return await _capped(response.headers.get("content-length"), response.content.iter_any(), limit, what)


async def _capped(declared: str | None, chunks: AsyncIterator[bytes], limit: int, what: str) -> bytes:
    """A body of at most ``limit`` bytes: refused at once when its declared length is
    larger, else while it arrives."""
    if declared and declared.isdigit() and int(declared) > limit:
        raise PermanentProbeError(f"{what}: body of {declared} bytes is more than the {limit} allowed")
    read: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PermanentProbeError(f"{what}: body is more than the {limit} bytes allowed")
        read.append(chunk)
    return b"".join(read)


def _last_modified(header: str | None) -> datetime | None:
    if not header:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
