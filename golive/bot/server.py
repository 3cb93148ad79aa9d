"""``golive serve``: the bot's process.

Socket Mode when ``SLACK_APP_TOKEN`` is set, else HTTP on ``PORT`` with
``POST /slack/events`` (signatures verified). Both modes serve ``GET /healthz`` and
``GET /metrics``. Without Slack credentials the console surface stands in: messages are
printed and charts written to a folder.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from ..checks.model import Checklist
from ..storage import Store
from .approvers import SlackApprovers
from .slack_app import Bot, build_app
from .surface import SlackSurface

log = logging.getLogger(__name__)
DEFAULT_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class Settings:
    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str
    port: int
    channel: str | None

    @classmethod
    def from_env(cls) -> Settings:
        api_url = os.environ.get("SLACK_API_URL") or DEFAULT_API_URL
        return cls(
            bot_token=os.environ.get("SLACK_BOT_TOKEN") or None,
            signing_secret=os.environ.get("SLACK_SIGNING_SECRET") or None,
            app_token=os.environ.get("SLACK_APP_TOKEN") or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            port=int(os.environ.get("PORT") or 3000),
            channel=os.environ.get("GOLIVE_CHANNEL") or None,
        )


def web_client(token: str, api_url: str) -> AsyncWebClient:
    """A client that retries what is worth retrying: 429 after Retry-After, 500/503, resets."""
    return AsyncWebClient(
        token=token,
        base_url=api_url,
        timeout=15,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def make_bot(checklist: Checklist, store: Store, settings: Settings) -> Bot:
    assert settings.bot_token is not None
    client = web_client(settings.bot_token, settings.api_url)
    return Bot(
        checklist=checklist,
        store=store,
        client=client,
        channel=settings.channel or checklist.release.channel or "",
        approvers=SlackApprovers(client),
        surface=SlackSurface(client),
    )


def http_app(app: AsyncApp | None, store: Store | None = None) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        assert app is not None
        response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    application = web.Application(client_max_size=1024 * 1024)
    if app is not None:
        application.router.add_post("/slack/events", events)
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/metrics", metrics)
    return application


async def serve(checklist: Checklist, store: Store, settings: Settings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set."""
    # Runs left "running" by a process that died are over: say so before starting anew.
    aborted = await store.abort_unfinished_runs(at=datetime.now(UTC))
    if aborted:
        log.warning("marked runs %s as aborted (left unfinished by an earlier process)", aborted)
    bolt: AsyncApp | None = None
    socket_handler = None
    if settings.bot_token:
        bot = make_bot(checklist, store, settings)
        bolt = build_app(bot, None if settings.app_token else settings.signing_secret)
        if settings.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(bolt, settings.app_token)
            await socket_handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode")
        elif not settings.signing_secret:
            raise SystemExit(
                "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
            )
    else:
        log.warning(
            "no SLACK_BOT_TOKEN: serving health and metrics only; `golive run` prints what the bot would post"
        )
    runner = web.AppRunner(http_app(bolt if not settings.app_token else None))
    await runner.setup()
    site = web.TCPSite(runner, host=os.environ.get("HOST", "0.0.0.0"), port=settings.port)  # noqa: S104
    await site.start()
    log.info("listening on port %s", settings.port)
    try:
        await stop.wait()
    finally:
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()


def charts_folder() -> Path:
    return Path(os.environ.get("GOLIVE_CHARTS_DIR") or "golive-out")
