"""``/api/v1/verdict`` and ``/api/v1/runs/{id}`` on ``golive serve``'s HTTP port.

Read-only and off by default: with no token configured the routes answer 404, as if
absent. A request needs ``Authorization: Bearer <token>`` of a configured token (401
otherwise, with ``WWW-Authenticate``); each token name has its own rate limit (429 with
``Retry-After``), and so has each client address for requests without a valid token, so
guessing is slow. Answers carry an ``ETag``; ``If-None-Match`` with the current one is
answered 304, so a poller costs one database read and no body.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ...storage import StorageError, Store
from ..core.errors import UserError
from .tokens import ApiTokens
from .verdict import UnknownPhase, etag, matches, run_document, verdict_document

log = logging.getLogger(__name__)

#: Requests per second each token (or each address without one) may make, and the burst.
RATE_PER_SECOND = 5.0
BURST = 20
#: Buckets kept before full ones are forgotten: many addresses cannot grow memory unbounded.
MAX_BUCKETS = 10_000


@dataclass
class RateLimit:
    """A token bucket per key: ``BURST`` requests at once, ``rate`` a second after that."""

    rate: float = RATE_PER_SECOND
    burst: int = BURST
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def wait(self, key: str) -> float:
        """0 when the request may go ahead (and counts it), else the seconds to wait."""
        now = self.clock()
        if key not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
            self._forget_full(now)
        level, since = self._buckets.get(key, (float(self.burst), now))
        level = min(float(self.burst), level + (now - since) * self.rate)
        if level >= 1:
            self._buckets[key] = (level - 1, now)
            return 0.0
        self._buckets[key] = (level, now)
        return (1 - level) / self.rate

    def _forget_full(self, now: float) -> None:
        """A bucket refilled to its burst is the same as none."""
        refill = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}


def _json(document: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps(document, ensure_ascii=False, default=_finite_default, allow_nan=False)
    return web.Response(
        text=body,
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-cache", **(headers or {})},
    )


def _finite_default(value: Any) -> Any:
    return str(value)


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: such observed values are written as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json({"error": message}, status, headers)


def install(
    application: web.Application, store: Store, tokens: ApiTokens, limit: RateLimit | None = None
) -> None:
    """Add the API's routes to ``golive serve``'s HTTP application."""
    limits = limit or RateLimit()

    def authorize(request: web.Request) -> web.Response | str:
        if not tokens.enabled:
            raise web.HTTPNotFound()
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        name = tokens.holder(presented.strip()) if scheme.lower() == "bearer" and presented else None
        key = f"token:{name}" if name is not None else f"address:{request.remote}"
        wait = limits.wait(key)
        if wait > 0:
            return _error(429, "too many requests", {"Retry-After": str(math.ceil(wait))})
        if name is None:
            log.info("verdict API: refused a request without a valid token from %s", request.remote)
            challenge = {"WWW-Authenticate": 'Bearer realm="golive"'}
            return _error(401, "a valid bearer token is required", challenge)
        return name

    async def answer(request: web.Request, document: dict[str, Any]) -> web.Response:
        document = _finite(document)
        tag = etag(document)
        if matches(request.headers.get("If-None-Match"), tag):
            return web.Response(status=304, headers={"ETag": tag, "Cache-Control": "no-cache"})
        return _json(document, headers={"ETag": tag})

    async def verdict(request: web.Request) -> web.Response:
        caller = authorize(request)
        if isinstance(caller, web.Response):
            return caller
        try:
            document = await verdict_document(store, phase=request.query.get("phase") or None)
        except UnknownPhase as exc:
            return _error(400, str(exc))
        except UserError as exc:  # nothing stored yet: not GO, ask again later
            return _error(503, str(exc), {"Retry-After": "30"})
        except StorageError:
            log.exception("verdict API: the database cannot be read")
            return _error(503, "the database cannot be read; see golive's log", {"Retry-After": "10"})
        return await answer(request, document)

    async def run(request: web.Request) -> web.Response:
        caller = authorize(request)
        if isinstance(caller, web.Response):
            return caller
        try:
            run_id = int(request.match_info["run_id"])
        except ValueError:
            return _error(400, "a run id is a number, e.g. /api/v1/runs/42")
        try:
            document = await run_document(store, run_id)
        except UserError as exc:
            return _error(404, str(exc))
        except StorageError:
            log.exception("verdict API: the database cannot be read")
            return _error(503, "the database cannot be read; see golive's log", {"Retry-After": "10"})
        if document is None:
            return _error(404, f"there is no run #{run_id}")
        return await answer(request, document)

    application.router.add_get("/api/v1/verdict", verdict)
    application.router.add_get("/api/v1/runs/{run_id}", run)
