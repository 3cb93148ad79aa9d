"""``golive serve``: the bot's process, wired here.

The store, this replica's lease and the leader election; the schedule with its
notifications and rollback watch (:mod:`golive.bot.core.scheduler`, :mod:`golive.bot.core.notify`),
which the leader runs whatever the surface; the surface they post to; the HTTP routes
(:mod:`golive.bot.serve.http`).

Socket Mode when ``SLACK_APP_TOKEN`` is set, else HTTP on ``PORT`` with
``POST /slack/events`` (signatures verified). Without Slack credentials the process runs
headless: the schedule and the rollback watch still run and store their results, and
what they would post is logged and counted in ``/metrics``
(:class:`golive.bot.console.LoggedSurface`). When configured, the verdict API
``/api/v1/...`` and a GitHub App's ``/github/webhook`` are served too
(:mod:`golive.bot.gate`). SIGTERM shuts down gracefully (:mod:`golive.bot.serve.shutdown`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from ...checks.model import Checklist
from ...settings import load_settings
from ...storage import Store
from ..console import LoggedSurface
from ..core.notify import Notifier
from ..core.progress import publish_stored_state
from ..core.publish import close_orphaned_message, start_chart_worker, stop_chart_worker
from ..core.scheduler import ReleaseScheduler
from ..core.surface import LeaderOnly, Surface
from ..gate import protection
from ..gate import serving as gate_serving
from ..ha.database import DatabaseLease, LeaderElection, LeaseBackend, new_holder, replica_lease
from ..slack.app import BoltApp, build_app
from ..slack.approvers import SlackApprovers
from ..slack.bot import Bot
from ..slack.client import web_client
from ..slack.link import SlackSocket, checked_token
from ..slack.requests import refuse_commands
from ..slack.surface import SlackSurface
from .http import http_app
from .readiness import Readiness
from .settings import Settings
from .shutdown import bounded, finish_work, grace_seconds

log = logging.getLogger(__name__)


def release_channel(checklist: Checklist, settings: Settings) -> str:
    return settings.channel or checklist.release.channel or ""


def release_scheduler(
    checklist: Checklist, store: Store, settings: Settings, surface: Surface
) -> ReleaseScheduler:
    """The schedule, and the notifier it calls after each run and for the rollback watch."""
    channel = release_channel(checklist, settings)
    notifier = Notifier(checklist, store, surface, channel)
    scheduler = ReleaseScheduler(checklist, store, surface, channel, notifier, asyncio.Lock())
    scheduler.verdict_interval = settings.verdict_interval
    return scheduler


def make_bot(checklist: Checklist, store: Store, settings: Settings) -> Bot:
    assert settings.bot_token is not None
    client = web_client(settings.bot_token, settings.api_url)
    surface = SlackSurface(client)
    return Bot(
        checklist=checklist,
        store=store,
        client=client,
        channel=release_channel(checklist, settings),
        approvers=SlackApprovers(client),
        surface=surface,
        scheduler=release_scheduler(checklist, store, settings, surface),
        allowed_teams=settings.allowed_teams,
    )


class Work:
    """Work this process started and the shutdown waits for: the bot's work after acks
    when Slack is connected, the leader's catch-up run either way."""

    def __init__(self, bot: Bot | None) -> None:
        self.bot = bot
        self.tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Awaitable[Any]) -> None:
        if self.bot is not None:
            self.bot.background(work)
            return

        async def run() -> None:
            await work

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def in_flight(self) -> set[asyncio.Task[Any]]:
        return self.tasks | (self.bot.tasks if self.bot is not None else set())


async def serve(checklist: Checklist, store: Store, settings: Settings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then shut down gracefully."""
    grace = grace_seconds()
    holder = new_holder()
    store.holder = holder
    # Present before any run starts, so no other replica takes this one's runs for orphans.
    await store.acquire_lease(replica_lease(holder), holder, settings.lease)
    log.info("replica %s; leader election on the %s", holder, settings.election)
    await publish_stored_state(checklist, store)
    start_chart_worker()
    readiness = Readiness(store=store)
    background: list[asyncio.Task[None]] = []
    bot, bolt, socket_handler = await _connect_slack(checklist, store, settings, readiness, background)
    if bot is not None:
        surface, scheduler = bot.surface, bot.scheduler
    else:
        surface = LoggedSurface(charts_folder())
        scheduler = release_scheduler(checklist, store, settings, surface)
    work = Work(bot)
    application = http_app(bolt if not settings.app_token else None, readiness=readiness)
    gates = gate_serving.install(application, checklist, store, _release_channel(bot))
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, host=load_settings().host, port=settings.port)
    await site.start()
    log.info("listening on port %s", settings.port)
    election = _election(
        checklist, store, settings, holder, surface, scheduler, work, readiness.shutting_down
    )
    if bot is not None:
        bot.election = election
    scheduler.leading = election.still_leading
    # The leader answers held deploys; every replica takes GitHub's deliveries.
    interval = settings.verdict_interval.total_seconds()
    background.extend(gates.start(interval=interval, leading=election.still_leading))
    electing = asyncio.Event()
    election_task = asyncio.create_task(election.run(electing))
    try:
        await stop.wait()
        readiness.shutting_down.set()
        log.info("shutting down")
        scheduler.shutdown()
        # Still leading meanwhile (the lease is renewed): the scheduled run in flight
        # finishes here, not in a successor.
        await finish_work(lambda: work.in_flight() | scheduler.in_flight(), store, grace)
    finally:
        electing.set()  # resigns: the next leader takes over at once
        await election_task
        for task in background:
            task.cancel()
        # Each step bounded: the whole shutdown fits Kubernetes' grace with the work's.
        if socket_handler is not None:
            await bounded("close the Socket Mode connection", socket_handler.close())
        await bounded("stop the HTTP server", runner.cleanup())
        stop_chart_worker()


async def _connect_slack(
    checklist: Checklist,
    store: Store,
    settings: Settings,
    readiness: Readiness,
    background: list[asyncio.Task[None]],
) -> tuple[Bot | None, BoltApp | None, Any]:
    """The bot, its Bolt app and, in Socket Mode, the connected handler; all None
    without a bot token."""
    if not settings.bot_token:
        log.warning(
            "no SLACK_BOT_TOKEN: running headless; what the bot would post is logged, "
            "and `golive run` prints it"
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
    readiness.slack = checked_token(bot.client, background)
    return bot, bolt, None


async def _abort_orphans(store: Store, checklist: Checklist, surface: Surface) -> None:
    """Runs left "running" by processes that are gone (their replica lease lapsed) are
    over: say so, in the database and in their messages. Runs of live replicas are
    theirs to finish. A scheduled run's message is left to the schedule, which says
    which run stands for it (``ReleaseScheduler.resume``)."""
    aborted = await store.abort_orphaned_runs(at=datetime.now(UTC))
    if not aborted:
        return
    log.warning("marked runs %s as aborted (left unfinished by a process that is gone)", aborted)
    for run_id in aborted:
        run = await store.run(run_id)
        if run is not None and run.trigger != "schedule":
            await close_orphaned_message(checklist, surface, run)


def _election(
    checklist: Checklist,
    store: Store,
    settings: Settings,
    holder: str,
    surface: Surface,
    scheduler: ReleaseScheduler,
    work: Work,
    shutting_down: asyncio.Event,
) -> LeaderElection:
    """The leader runs the schedule and the rollback watch, and sweeps up orphaned runs."""

    def guarded() -> Surface:
        return LeaderOnly(surface, election.still_leading)

    async def elected(term: int) -> None:
        await _abort_orphans(store, checklist, guarded())
        if shutting_down.is_set():
            return
        await scheduler.start()
        # Work the shutdown waits for: the slot it may re-run.
        work.start(scheduler.catch_up())

    async def deposed() -> None:
        scheduler.shutdown(cancel_run=True)

    election = LeaderElection(
        store=store,
        backend=_lease_backend(store, settings),
        holder=holder,
        duration=settings.lease,
        on_elected=elected,
        on_deposed=deposed,
        on_renewed=lambda: _abort_orphans(store, checklist, guarded()),
    )
    return election


def _release_channel(bot: Bot | None) -> Callable[[], protection.Channel | None]:
    """Where notices about held deploys go: the bot's release channel (none without Slack)."""

    def channel() -> protection.Channel | None:
        return protection.Channel(bot.surface, bot.channel) if bot is not None else None

    return channel


def _lease_backend(store: Store, settings: Settings) -> LeaseBackend:
    if settings.election == "kubernetes":
        from ..ha.kubernetes import KubernetesLease

        backend: LeaseBackend = KubernetesLease.from_environment()
        return backend
    return DatabaseLease(store)


def charts_folder() -> Path:
    return load_settings().charts_dir
