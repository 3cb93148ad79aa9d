"""TLS contexts shared by every client golive opens.

Loading the system trust store costs tens of milliseconds of CPU (a good part of a second
on a busy machine); a hundred concurrent probes, or a report download per item, would pay
it in turn. One context per setting is built once per process (first use: in a worker
thread, off the event loop) and shared, which ``ssl.SSLContext`` allows.
"""

from __future__ import annotations

import asyncio
import functools
import ssl

import httpx


@functools.cache
def shared_ssl_context(verify: bool = True) -> ssl.SSLContext:
    """The public roots (``verify``), or a context that checks nothing."""
    return httpx.create_ssl_context(verify=verify)


async def shared_ssl_context_async(verify: bool = True) -> ssl.SSLContext:
    """:func:`shared_ssl_context`, built off the event loop the first time."""
    return await asyncio.to_thread(shared_ssl_context, verify)
