"""A run, watched: its metrics, its log lines (each carrying the run id), and no run left
``running`` in the database when it fails or is cut short.

Whoever starts a run wraps it and hands the watch's hooks to ``publish_run`` or
``execute_run``::

    async with watch_run(checklist, store, "slack:U0123") as watch:
        run_id, state = await publish_run(..., on_start=watch.started, on_result=watch.result)
        watch.completed(state)

``started`` binds ``run_id`` into the logging context of the task running the run, so the
probes it starts afterwards and the Slack calls it makes log with it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import Token
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from ...checks.model import Checklist
from ...checks.probe import probe_type
from ...checks.results import ItemResult
from ...checks.status import Status
from ...storage import RunAborted, StorageError, Store
from ..ops.metrics import METRICS, Metrics, trigger_kind
from ..state import State
from . import usecases

log = structlog.get_logger(__name__)
#: Seconds to record an abort in the database before leaving it to the next start.
ABORT_TIMEOUT = 5.0

#: Runs this process has started and not finished: run id → the task running it.
_IN_FLIGHT: dict[int, asyncio.Task[Any]] = {}


def runs_in_flight() -> dict[int, asyncio.Task[Any]]:
    return dict(_IN_FLIGHT)


@dataclass
class RunWatch:
    checklist: Checklist
    trigger: str
    phase: str | None
    metrics: Metrics
    run_id: int | None = None
    finished: bool = False
    _started_at: float = 0.0
    _context: Mapping[str, Token[Any]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return trigger_kind(self.trigger)

    async def started(self, run_id: int) -> None:
        """``on_start``: the run has its id."""
        self.run_id = run_id
        self._started_at = time.perf_counter()
        self._context = structlog.contextvars.bind_contextvars(run_id=run_id)
        task = asyncio.current_task()
        if task is not None:
            _IN_FLIGHT[run_id] = task
        self.metrics.runs_started.labels(trigger=self.kind).inc()
        self.metrics.runs_in_flight.inc()
        log.info("run started", trigger=self.trigger, phase=self.phase)

    async def result(self, result: ItemResult) -> None:
        """``on_result``: one item decided."""
        item = self.checklist.item(result.item_id)
        kind = probe_type(item.probe_type)
        if kind.kind == "auto" and result.status != Status.SKIPPED:
            self.metrics.probe_duration.labels(probe_type=kind.name).observe(result.duration_ms / 1000)
        log.info(
            "item decided",
            item=result.item_id,
            probe_type=kind.name,
            status=str(result.status),
            duration_ms=round(result.duration_ms, 1),
            # When the probe observed it: the line's own timestamp is when it was told.
            checked_at=result.checked_at.isoformat(),
            message=result.message,
        )

    def completed(self, state: State) -> None:
        """The run finished and its verdict is stored."""
        self.finished = True
        seconds = time.perf_counter() - self._started_at
        self.metrics.runs_completed.labels(trigger=self.kind).inc()
        self.metrics.run_duration.labels(trigger=self.kind).observe(seconds)
        self.metrics.last_run_completed.set(time.time())
        publish_state(state, self.metrics)
        log.info(
            "run completed",
            verdict=state.verdict.decision,
            seconds=round(seconds, 3),
            blockers=len(state.verdict.blockers),
        )


def publish_state(state: State, metrics: Metrics = METRICS) -> None:
    """Item statuses and the verdict as gauges."""
    items = state.checklist.items()
    metrics.set_items(r.status for item in items if (r := state.results.get(item.id)) is not None)
    metrics.verdict_go.set(1 if state.verdict.go else 0)


async def publish_stored_state(checklist: Checklist, store: Store, metrics: Metrics = METRICS) -> None:
    """At start-up: the gauges as the database has them, before this process's first run."""
    state = await usecases.current_state(checklist, store)
    publish_state(state, metrics)
    for run in await store.runs(state.release_id, limit=50):
        if run.status == "complete" and run.finished_at is not None:
            metrics.last_run_completed.set(run.finished_at.timestamp())
            break


@asynccontextmanager
async def watch_run(
    checklist: Checklist,
    store: Store,
    trigger: str,
    *,
    phase: str | None = None,
    metrics: Metrics = METRICS,
) -> AsyncIterator[RunWatch]:
    watch = RunWatch(checklist, trigger, phase, metrics)
    try:
        yield watch
        if watch.run_id is not None and not watch.finished:
            raise RuntimeError("a watched run ended without watch.completed(state)")
    except BaseException as exc:  # CancelledError too: shutdown cuts runs short that way
        if watch.run_id is not None and not watch.finished:
            await _give_up(store, watch, exc)
        raise
    finally:
        if watch.run_id is not None:
            _IN_FLIGHT.pop(watch.run_id, None)
            metrics.runs_in_flight.dec()
            # A run started in another task bound its id there; nothing to undo here.
            with contextlib.suppress(ValueError):
                structlog.contextvars.reset_contextvars(**watch._context)


async def _status(store: Store, run_id: int) -> str | None:
    try:
        async with asyncio.timeout(ABORT_TIMEOUT):
            run = await store.run(run_id)
    except (StorageError, TimeoutError):
        return None
    return None if run is None else run.status


async def _give_up(store: Store, watch: RunWatch, exc: BaseException) -> None:
    """Mark the run aborted, unless it had finished (what failed came after, e.g. posting)."""
    assert watch.run_id is not None
    if isinstance(exc, RunAborted):
        # Expected after a pause past the lease: the replica that took over aborted the
        # run and re-runs its slot. Nothing to mark, nothing completed.
        watch.metrics.runs_aborted.labels(trigger=watch.kind).inc()
        log.warning("run aborted by the replica that took over; its late results are dropped")
        return
    reason = "cancelled" if isinstance(exc, asyncio.CancelledError) else f"{type(exc).__name__}: {exc}"
    try:
        async with asyncio.timeout(ABORT_TIMEOUT):
            aborted = await store.abort_runs([watch.run_id], at=datetime.now(UTC))
    except (StorageError, TimeoutError):
        # The database is what failed; the next start marks the run aborted.
        log.exception("could not mark the run aborted", reason=reason)
        aborted = [watch.run_id]
    if aborted:
        watch.metrics.runs_aborted.labels(trigger=watch.kind).inc()
        log.warning("run aborted", reason=reason)
    elif await _status(store, watch.run_id) == "aborted":
        # Aborted meanwhile by the replica that took this one for dead (the lease was
        # lost, and with it the run): not a run of this process's any more.
        watch.metrics.runs_aborted.labels(trigger=watch.kind).inc()
        log.warning("run aborted by the replica that took over", reason=reason)
    else:
        watch.finished = True
        watch.metrics.runs_completed.labels(trigger=watch.kind).inc()
        log.warning("run completed, but what followed failed", reason=reason)
