"""``golive serve``: the bot's process.

Socket Mode when ``SLACK_APP_TOKEN`` is set, else HTTP on ``PORT`` with
``POST /slack/events`` (signatures verified). Both modes serve ``GET /healthz`` (alive),
``GET /readyz`` (:mod:`golive.bot.serve.readiness`) and ``GET /metrics``
(:mod:`golive.bot.ops.metrics`). Without Slack credentials the console surface stands
in: messages are printed and charts written to a folder. SIGTERM shuts down gracefully
(:mod:`golive.bot.serve.shutdown`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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

from ...checks.model import Checklist
from ...storage import Store
from ..core.progress import publish_stored_state
from ..core.publish import close_orphaned_message
from ..core.scheduler import VERDICT_INTERVAL, verdict_interval
from ..core.surface import LeaderOnly, SlackSurface, Surface
from ..ha.database import (
    DEFAULT_DURATION,
    DatabaseLease,
    LeaderElection,
    LeaseBackend,
    lease_duration,
    new_holder,
    replica_lease,
)
from ..ops.metrics import METRICS, InstrumentedWebClient
from ..slack.app import Bot, build_app
from ..slack.approvers import SlackApprovers
from ..slack.client import AsyncTimeoutRetryHandler
from ..slack.requests import malformed
from .readiness import Readiness, SlackAuth, SlackSocket
from .shutdown import bounded, finish_work, grace_seconds, refuse_commands

log = logging.getLogger(__name__)
DEFAULT_API_URL = "https://slack.com/api/"
ELECTIONS = ("database", "kubernetes")


@dataclass(frozen=True)
class Settings:
    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str
    port: int
    channel: str | None
    #: How long the leader lease (and each process's replica lease) stands unrenewed.
    lease: timedelta = DEFAULT_DURATION
    #: Where the leader lease lives: "database" or "kubernetes".
    election: str = "database"
    #: How often the leader re-evaluates the verdict (expiries withdraw GO).
    verdict_interval: timedelta = VERDICT_INTERVAL

    @classmethod
    def from_env(cls) -> Settings:
        """The settings in the environment; ValueError names a bad one and how to fix it."""
        api_url = os.environ.get("SLACK_API_URL") or DEFAULT_API_URL
        election = os.environ.get("GOLIVE_LEADER_ELECTION") or "database"
        if election not in ELECTIONS:
            choices = ", ".join(ELECTIONS)
            raise ValueError(
                f"GOLIVE_LEADER_ELECTION={election!r} is not one of {choices} (default: database)"
            )
        return cls(
            bot_token=os.environ.get("SLACK_BOT_TOKEN") or None,
            signing_secret=os.environ.get("SLACK_SIGNING_SECRET") or None,
            app_token=os.environ.get("SLACK_APP_TOKEN") or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            port=int(os.environ.get("PORT") or 3000),
            channel=os.environ.get("GOLIVE_CHANNEL") or None,
            lease=lease_duration(),
            election=election,
            verdict_interval=verdict_interval(),
        )


def web_client(token: str, api_url: str) -> AsyncWebClient:
    """A client that retries what is worth retrying: 429 after Retry-After, 500/503, resets;
    and counts its calls, errors and retries (golive_slack_api_* metrics)."""
    return InstrumentedWebClient(
        token=token,
        base_url=api_url,
        timeout=15,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncTimeoutRetryHandler(max_retry_count=2),
        ],
    )


def make_bot(checklist: Checklist, store: Store, settings: Settings) -> Bot:
    assert settings.bot_token is not None
    client = web_client(settings.bot_token, settings.api_url)
    bot = Bot(
        checklist=checklist,
        store=store,
        client=client,
        channel=settings.channel or checklist.release.channel or "",
        approvers=SlackApprovers(client),
        surface=SlackSurface(client),
    )
    bot.scheduler.verdict_interval = settings.verdict_interval
    return bot


def http_app(
    app: AsyncApp | None, store: Store | None = None, readiness: Readiness | None = None
) -> web.Application:
    ready = readiness or Readiness(store=store)

    async def events(request: web.Request) -> web.Response:
        assert app is not None
        try:
            refused = malformed(await request.text(), request.content_type)
        except UnicodeDecodeError:  # Slack sends UTF-8
            refused = "the body is not UTF-8"
        if refused is not None:  # not a body Slack sends; Bolt would fail on it with a 500
            return web.Response(status=400, text=refused)
        response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

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
        application.router.add_post("/slack/events", events)
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/readyz", readyz)
    application.router.add_get("/metrics", metrics)
    return application


async def serve(checklist: Checklist, store: Store, settings: Settings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then shut down gracefully."""
    grace = grace_seconds()
    holder = new_holder()
    store.holder = holder
    # Present before any run starts, so no other replica takes this one's runs for orphans.
    await store.acquire_lease(replica_lease(holder), holder, settings.lease)
    log.info("replica %s; leader election on the %s", holder, settings.election)
    await publish_stored_state(checklist, store)
    readiness = Readiness(store=store)
    background: list[asyncio.Task[None]] = []
    bot, bolt, socket_handler = await _connect_slack(checklist, store, settings, readiness, background)
    runner = web.AppRunner(http_app(bolt if not settings.app_token else None, readiness=readiness))
    await runner.setup()
    site = web.TCPSite(runner, host=os.environ.get("HOST", "0.0.0.0"), port=settings.port)  # noqa: S104
    await site.start()
    log.info("listening on port %s", settings.port)
    election = _election(store, settings, holder, bot, readiness.shutting_down)
    if bot is not None:
        bot.election = election
        bot.scheduler.leading = election.still_leading
    electing = asyncio.Event()
    election_task = asyncio.create_task(election.run(electing))
    try:
        await stop.wait()
        readiness.shutting_down.set()
        log.info("shutting down")
        if bot is not None:
            bot.scheduler.shutdown()
        # Still leading meanwhile (the lease is renewed): the scheduled run in flight
        # finishes here, not in a successor.
        await finish_work(
            lambda: bot.tasks | bot.scheduler.in_flight() if bot is not None else set(), store, grace
        )
    finally:
        electing.set()  # resigns: the next leader takes over at once
        await election_task
        for task in background:
            task.cancel()
        # Each step bounded: the whole shutdown fits Kubernetes' grace with the work's.
        if socket_handler is not None:
            await bounded("close the Socket Mode connection", socket_handler.close())
        await bounded("stop the HTTP server", runner.cleanup())


async def _connect_slack(
    checklist: Checklist,
    store: Store,
    settings: Settings,
    readiness: Readiness,
    background: list[asyncio.Task[None]],
) -> tuple[Bot | None, AsyncApp | None, Any]:
    """The bot, its Bolt app and, in Socket Mode, the connected handler; all None
    without a bot token."""
    if not settings.bot_token:
        log.warning(
            "no SLACK_BOT_TOKEN: serving health and metrics only; `golive run` prints what the bot would post"
        )
        return None, None, None
    bot = make_bot(checklist, store, settings)
    bolt = build_app(bot, None if settings.app_token else settings.signing_secret)
    restarting = bot.t("restarting")
    bolt.middleware(refuse_commands(readiness.shutting_down, lambda: restarting))
    if settings.app_token:
        from ..slack.socket_mode import socket_client

        socket = socket_client(bolt, settings.app_token, bot.client)
        # In the background: while Slack cannot be reached the process still serves
        # /healthz, and /readyz says the socket is down, rather than hanging at start.
        readiness.slack = SlackSocket(socket)
        background.append(asyncio.create_task(socket.connect()))
        return bot, bolt, socket
    if not settings.signing_secret:
        raise SystemExit(
            "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    readiness.slack = _check_token(bot.client, background)
    return bot, bolt, None


async def _abort_orphans(store: Store, bot: Bot | None = None, surface: Surface | None = None) -> None:
    """Runs left "running" by processes that are gone (their replica lease lapsed) are
    over: say so, in the database and in their messages. Runs of live replicas are
    theirs to finish. A scheduled run's message is left to the schedule, which says
    which run stands for it (``ReleaseScheduler.resume``)."""
    aborted = await store.abort_orphaned_runs(at=datetime.now(UTC))
    if not aborted:
        return
    log.warning("marked runs %s as aborted (left unfinished by a process that is gone)", aborted)
    if bot is None or surface is None:
        return
    for run_id in aborted:
        run = await store.run(run_id)
        if run is not None and run.trigger != "schedule":
            await close_orphaned_message(bot.checklist, surface, run)


def _election(
    store: Store, settings: Settings, holder: str, bot: Bot | None, shutting_down: asyncio.Event
) -> LeaderElection:
    """The leader runs the schedule and the rollback watch, and sweeps up orphaned runs."""

    def guarded() -> Surface | None:
        return LeaderOnly(bot.surface, election.still_leading) if bot is not None else None

    async def elected(term: int) -> None:
        await _abort_orphans(store, bot, guarded())
        if bot is None or shutting_down.is_set():
            return
        await bot.scheduler.start()
        # A task of the bot's: the shutdown waits for the slot it may re-run.
        bot.background(bot.scheduler.catch_up())

    async def deposed() -> None:
        if bot is not None:
            bot.scheduler.shutdown(cancel_run=True)

    election = LeaderElection(
        store=store,
        backend=_lease_backend(store, settings),
        holder=holder,
        duration=settings.lease,
        on_elected=elected,
        on_deposed=deposed,
        on_renewed=lambda: _abort_orphans(store, bot, guarded()),
    )
    return election


def _lease_backend(store: Store, settings: Settings) -> LeaseBackend:
    if settings.election == "kubernetes":
        from ..ha.kubernetes import KubernetesLease

        backend: LeaseBackend = KubernetesLease.from_environment()
        return backend
    return DatabaseLease(store)


def _check_token(client: AsyncWebClient, background: list[asyncio.Task[None]]) -> SlackAuth:
    """HTTP mode: ready once auth.test succeeds, asked in the background until it does."""
    auth = SlackAuth(client)
    background.append(asyncio.create_task(auth.keep_trying()))
    return auth


def charts_folder() -> Path:
    return Path(os.environ.get("GOLIVE_CHARTS_DIR") or "golive-out")
