"""Graceful shutdown of ``golive serve``.

Kubernetes sends SIGTERM, then SIGKILL after ``terminationGracePeriodSeconds`` (30 s in
manifests/base). Between the two:

1. readiness turns 503 and new slash commands are answered "restarting, try again" at
   once, so none is half done; button clicks and modal submissions (short writes) are
   still taken;
2. work in flight (runs, the work after acks) may finish for ``GOLIVE_SHUTDOWN_GRACE``
   seconds (25 by default: inside Kubernetes' 30, with time left to close);
3. what still runs then is cancelled, and its runs are marked aborted in the database:
   no run stays ``running`` with nobody running it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from ...settings import DEFAULT_SHUTDOWN_GRACE, SettingsError, load_settings
from ...storage import StorageError, Store
from ..core.progress import runs_in_flight

log = structlog.get_logger(__name__)
GRACE_ENV = "GOLIVE_SHUTDOWN_GRACE"
DEFAULT_GRACE = DEFAULT_SHUTDOWN_GRACE
#: Seconds cancelled work gets to record that its run was aborted (twice at most: the
#: runs themselves, then this process for them).
CANCEL_WAIT = 1.0
#: Seconds each closing step after the work (the Slack connection, the HTTP server) may
#: take. After the grace: cancelling 2 s, resigning 1 s (``leader.RESIGN_WAIT``),
#: closing 0.5 s: 25 s + 3.5 s stays inside Kubernetes' 30 s.
CLOSE_WAIT = 0.25


def grace_seconds() -> float:
    """``GOLIVE_SHUTDOWN_GRACE`` (default 25): seconds a run in flight may take to finish."""
    try:
        return load_settings().shutdown_grace
    except SettingsError as exc:
        raise SystemExit(str(exc)) from None


async def bounded(what: str, step: Awaitable[Any], seconds: float = CLOSE_WAIT) -> None:
    """One closing step, given up after ``seconds`` (logged as one line, not a traceback):
    a peer that does not answer must not keep the process past its grace."""
    try:
        async with asyncio.timeout(seconds):
            await step
    except TimeoutError:
        log.warning("shutting down: gave up waiting", step=what, waited_s=seconds)
    except Exception as exc:  # closing what failed already: say so, and go on closing
        log.warning("shutting down: step failed", step=what, error=f"{type(exc).__name__}: {exc}")


async def finish_work(pending: Callable[[], set[asyncio.Task[Any]]], store: Store, grace: float) -> None:
    """Let ``pending()`` tasks (asked again as they finish: a click may add one) and the
    runs in flight finish within ``grace`` seconds; then cancel and abort the rest."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace

    def unfinished() -> set[asyncio.Task[Any]]:
        current = asyncio.current_task()
        tasks = pending() | set(runs_in_flight().values())
        return {t for t in tasks if not t.done() and t is not current}

    waiting = unfinished()
    if waiting:
        log.info("shutting down: waiting for work in flight", tasks=len(waiting), grace_s=grace)
    while waiting and loop.time() < deadline:
        await asyncio.wait(waiting, timeout=deadline - loop.time())
        waiting = unfinished()
    if not waiting:
        return
    runs = sorted(runs_in_flight())
    log.warning("shutting down: grace period over, aborting", tasks=len(waiting), runs=runs)
    for task in waiting:
        task.cancel()
    # Cancelled runs mark themselves aborted (runwatch); give them a moment to.
    await asyncio.wait(waiting, timeout=CANCEL_WAIT)
    left = sorted(runs_in_flight())
    if left:
        try:
            async with asyncio.timeout(CANCEL_WAIT):
                await store.abort_runs(left, at=datetime.now(UTC))
        except (StorageError, TimeoutError):
            log.exception("could not mark runs aborted; the next start marks them", runs=left)
