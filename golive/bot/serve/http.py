"""The HTTP routes of ``golive serve``: ``POST /slack/events`` (HTTP mode, handed to Bolt),
``GET /healthz`` (alive), ``GET /readyz`` (:mod:`golive.bot.serve.readiness`) and
``GET /metrics`` (:mod:`golive.bot.ops.metrics`)."""

from __future__ import annotations

import json

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ...storage import Store
from ..ops.metrics import METRICS
from ..slack.app import BoltApp, events_endpoint
from .readiness import Readiness


def http_app(
    app: BoltApp | None, store: Store | None = None, readiness: Readiness | None = None
) -> web.Application:
    ready = readiness or Readiness(store=store)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        ok, body = await ready.check()
        return web.json_response(body, status=200 if ok else 503, dumps=json.dumps)

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(METRICS.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    application = web.Application(client_max_size=1024 * 1024)
    if app is not None:
        application.router.add_post("/slack/events", events_endpoint(app))
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/readyz", readyz)
    application.router.add_get("/metrics", metrics)
    return application
