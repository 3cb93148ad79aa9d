"""A run, published: one message edited in place, then phase summaries and charts in its
thread, then the GO announcement when the verdict turns GO.

Slack's limits shape it: ``chat.update`` is Tier 3 (about 50 a minute), so progress edits
are batched to at most one per ``edit_interval`` seconds whatever the number of probes;
``chat.postMessage`` is about one a second per channel, so the thread gets one message
per phase (more only when a phase's problems exceed a message).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

from ...checks.model import Checklist, Phase
from ...checks.results import ItemResult
from ...checks.runner import select_items
from ...storage import RunAborted, RunInfo, StorageError, Store
from ..render import blocks, mrkdwn
from ..state import State
from . import transitions, usecases
from .surface import Surface, restoring

if TYPE_CHECKING:
    from ..render.chart_file import Chart

HISTORY_RUNS = 20
log = logging.getLogger(__name__)


async def _to_slack(what: str, call: Awaitable[Any]) -> Any:
    """One post or edit. Slack failing (after the client's own retries) must not stop a
    run or lose its stored results: the failure is logged and the run goes on."""
    try:
        return await call
    except Exception as exc:  # the surface's transport: Slack API errors, timeouts, resets
        log.warning("could not %s: %s: %s", what, type(exc).__name__, exc)
        return None


@dataclass(frozen=True)
class PublishedRun:
    """A run stored and its message edited to the final state; its thread still to post."""

    run_id: int
    state: State
    #: Posts the phase summaries and charts in the run message's thread. A caller holding
    #: the run lock calls it after letting go: drawing takes seconds, and the next run
    #: need not wait for pictures of this one.
    post_thread: Callable[[], Awaitable[None]]


async def publish_run(
    checklist: Checklist,
    store: Store,
    surface: Surface,
    channel: str,
    *,
    phase: str | None = None,
    trigger: str = "slack",
    edit_interval: float = 2.0,
    on_result: Callable[[ItemResult], Awaitable[None]] | None = None,
    on_start: Callable[[int], Awaitable[None]] | None = None,
    on_posted: Callable[[int, str], Awaitable[None]] | None = None,
    slot_at: datetime | None = None,
) -> tuple[int, State]:
    """The whole of it, in order: the run message (see :func:`publish_run_message`), its
    thread, then GO if the release's verdict is GO now."""
    published = await publish_run_message(
        checklist,
        store,
        surface,
        channel,
        phase=phase,
        trigger=trigger,
        edit_interval=edit_interval,
        on_result=on_result,
        on_start=on_start,
        on_posted=on_posted,
        slot_at=slot_at,
    )
    await published.post_thread()
    # The run message is the run's own; GO is announced on the release's current verdict,
    # its newest observations, which a run beside this one may have made since.
    release = await usecases.release_state(published.state, store)
    await announce_if_go(checklist, store, surface, channel, release)
    return published.run_id, published.state


async def publish_run_message(
    checklist: Checklist,
    store: Store,
    surface: Surface,
    channel: str,
    *,
    phase: str | None = None,
    trigger: str = "slack",
    edit_interval: float = 2.0,
    on_result: Callable[[ItemResult], Awaitable[None]] | None = None,
    on_start: Callable[[int], Awaitable[None]] | None = None,
    on_posted: Callable[[int, str], Awaitable[None]] | None = None,
    slot_at: datetime | None = None,
) -> PublishedRun:
    """Run and store the checklist with its message in Slack, posted at the start and
    edited as results arrive (at most once per ``edit_interval``) and at the end.

    ``on_posted(run_id, ts)``: the run message is in Slack (its ts is stored too, so that
    a replica taking over can edit it if this process goes away mid-run)."""
    selected = select_items(checklist, phase)
    before = await usecases.current_state(checklist, store)
    total = len(selected)
    decided: dict[str, ItemResult] = {}
    changed = asyncio.Event()
    started = time.perf_counter()
    where: dict[str, Any] = {}
    editors: list[asyncio.Task[None]] = []
    # Held by an edit on its way to Slack. The run's last word (final or "Stopped") waits
    # for it: an edit cancelled in flight may still be applied, after that last word.
    editing = asyncio.Lock()

    async def started_run(run_id: int) -> None:
        if on_start is not None:
            await on_start(run_id)
        # Posted once the run has its id and before any probe result arrives.
        where["run"] = run_id
        message = blocks.run_message(before, run_id, 0, total, False, 0.0, trigger=trigger, phase=phase)
        where["ts"] = await _to_slack("post the run message", surface.post(channel, message))
        if where["ts"] is None:
            return  # no message to edit; the final state is posted when the run is done
        await _posted(store, run_id, channel, where["ts"], on_posted)
        # Created here, not earlier, so the editor's task inherits what on_start put in
        # the context (the run id its log lines carry).
        editors.append(asyncio.create_task(edit_loop()))

    async def record(result: ItemResult) -> None:
        decided[result.item_id] = result
        changed.set()
        if on_result is not None:
            await on_result(result)

    async def edit_loop() -> None:
        while True:
            await changed.wait()
            changed.clear()
            progress = replace(before, results={**before.results, **decided})
            message = blocks.run_message(
                progress, where["run"], len(decided), total, False, 0.0, trigger=trigger, phase=phase
            )
            async with editing:
                await _to_slack("edit the run message", surface.update(channel, where["ts"], message))
                # Asked after the edit, not before: an edit this process made before a pause
                # past its lease may reach Slack only when it wakes, after the replica that
                # took over wrote "Stopped". Aborted by then means this edit may have covered that.
                if await _taken_over(store, where["run"]):
                    await restore_stopped_message(checklist, store, surface, where["run"])
                    return
            await asyncio.sleep(edit_interval)

    taken_over = False
    try:
        run_id, state = await usecases.execute_run(
            checklist,
            store,
            phase=phase,
            trigger=trigger,
            on_result=record,
            on_start=started_run,
            slot_at=slot_at,
        )
    except RunAborted:
        taken_over = True
        raise
    finally:
        await _stop_editors(editing, editors)
        if taken_over and where.get("ts") is not None:
            await restore_stopped_message(checklist, store, surface, where["run"])
    final = blocks.run_message(
        state, run_id, total, total, True, time.perf_counter() - started, trigger=trigger, phase=phase
    )
    ts = await _final_message(surface, channel, where["ts"], final)
    phases = [checklist.phase(phase)] if phase else checklist.phases
    return PublishedRun(run_id, state, lambda: _post_phases(store, surface, channel, ts, state, phases))


async def _stop_editors(editing: asyncio.Lock, editors: list[asyncio.Task[None]]) -> None:
    """Stop editing the run message once an edit on its way has landed (``editing`` is
    held meanwhile), so that the run's last word, written next, is the last applied."""
    async with editing:
        for editor in editors:
            editor.cancel()
    await asyncio.gather(*editors, return_exceptions=True)


async def _final_message(surface: Surface, channel: str, ts: str | None, final: blocks.Message) -> str | None:
    """The run message in its final state: edited, or posted if the first post failed."""
    if ts is None:
        posted: str | None = await _to_slack("post the run message", surface.post(channel, final))
        return posted
    await _to_slack("edit the run message", surface.update(channel, ts, final))
    return ts


async def _post_phases(
    store: Store, surface: Surface, channel: str, ts: str | None, state: State, phases: list[Phase]
) -> None:
    """Each phase's summary, then its chart, in the run message's thread."""
    # Drawing starts for every phase at once (in the bounded chart pool) while the
    # summaries are posted; each chart follows its phase's summary in the thread.
    drawn = [
        asyncio.create_task(phase_chart(state.checklist, store, state.release_id, chosen))
        for chosen in phases
    ]
    for chosen, drawing in zip(phases, drawn, strict=True):
        for message in blocks.phase_summary(state, chosen):
            await _to_slack("post a phase summary", surface.post(channel, message, thread_ts=ts))
        chart = await drawing
        if chart is not None:  # a phase with nothing to show posts no empty picture
            await _to_slack("upload a chart", surface.upload(channel, ts, chart))


async def _posted(
    store: Store, run_id: int, channel: str, ts: str, then: Callable[[int, str], Awaitable[None]] | None
) -> None:
    await store.set_run_message(run_id, channel=channel, ts=ts)
    if then is not None:
        await then(run_id, ts)


async def _taken_over(store: Store, run_id: int) -> bool:
    try:
        run = await store.run(run_id)
    except StorageError:
        return False  # the database will say so at the run's next result
    return run is not None and run.status == "aborted"


async def restore_stopped_message(checklist: Checklist, store: Store, surface: Surface, run_id: int) -> None:
    """Put back the "Stopped" message the replica that took this run over wrote, which an
    edit of this process, late because the process was paused, may have covered. The
    same text as the successor's (:func:`close_orphaned_message`, with the run that
    re-ran the slot once its message is posted; until then the successor's own edit,
    still to come, links it), and no second note in the thread."""
    try:
        run = await store.run(run_id)
        if run is None or run.status != "aborted":
            return
        rerun = await _rerun_of(store, run)
    except StorageError as exc:
        log.warning("could not restore the message of run %s: %s", run_id, exc)
        return
    await close_orphaned_message(checklist, restoring(surface), run, rerun=rerun, note=False)


async def _rerun_of(store: Store, run: RunInfo) -> tuple[int, str, str] | None:
    """The run that re-ran an aborted scheduled run's slot, once its message is posted."""
    if run.slot_at is None:
        return None
    later = [
        r
        for r in await store.runs(run.release_id, limit=HISTORY_RUNS)
        if r.slot_at == run.slot_at and r.id > run.id and r.message_channel and r.message_ts
    ]
    if not later:
        return None
    first = min(later, key=lambda r: r.id)
    assert first.message_channel is not None and first.message_ts is not None
    return first.id, first.message_channel, first.message_ts


async def close_orphaned_message(
    checklist: Checklist,
    surface: Surface,
    run: RunInfo,
    *,
    rerun: tuple[int, str, str] | None = None,
    note: bool = True,
) -> None:
    """Edit the message of a run whose replica went away mid-run to its final state, and
    say the same in its thread (unless ``note`` is False): stopped, and ``rerun`` (run id,
    channel, ts of its message) stands for it. Left as it was, it would read "n of m
    decided" forever."""
    if run.message_channel is None or run.message_ts is None:
        return  # never posted: nothing half-said
    link = None
    if rerun is not None:
        rerun_id, rerun_channel, rerun_ts = rerun
        url = await _to_slack("link to the re-run", surface.permalink(rerun_channel, rerun_ts))
        link = mrkdwn.link(url, f"#{rerun_id}") if url else f"#{rerun_id}"
    channel, ts = run.message_channel, run.message_ts
    final = blocks.orphaned_run_message(checklist, run.id, link)
    await _to_slack("edit an orphaned run message", surface.update(channel, ts, final))
    if note:
        said = blocks.orphaned_run_note(checklist, link)
        await _to_slack("post in an orphaned run's thread", surface.post(channel, said, thread_ts=ts))


#: Charts are drawn in one worker process at a lower priority, not in a thread of this
#: one: drawing is Python work that holds the interpreter lock and takes a core, and the
#: event loop must acknowledge Slack within 3 s. On 2 shared cores, 50 concurrent
#: commands sent while a run's eight charts were drawn were acknowledged at p99 > 1 s with
#: a drawing thread or an equal-priority worker, and as fast as without drawing with this
#: one (bench/ack_latency.py). One worker bounds what a burst of runs takes from the
#: machine; their charts queue. Spawned, not forked: this process runs threads and an
#: event loop. Started on the first chart, or by :func:`start_chart_worker`.
CHART_WORKERS = 1

_pools: list[ProcessPoolExecutor] = []


def chart_pool(workers: int = CHART_WORKERS) -> ProcessPoolExecutor:
    """The chart workers; started with ``workers`` processes if none run yet."""
    if not _pools:
        _pools.append(
            ProcessPoolExecutor(
                max_workers=workers, mp_context=get_context("spawn"), initializer=_behind_acknowledgements
            )
        )
    return _pools[0]


def command_line_chart_workers() -> int:
    """Chart workers for a command-line run: two where there are two cores. Nothing waits
    for an acknowledgement there, and a phase of a hundred items takes most of a second
    to draw; more workers would each hold another ~100 MiB (an interpreter and
    matplotlib) for little: two halve a long checklist's charts already."""
    return max(1, min(2, os.cpu_count() or 1))


def _behind_acknowledgements() -> None:
    """The chart worker yields the CPU to this process: a picture may come a moment later,
    an acknowledgement may not. Drawing's imports (matplotlib) are paid here, when the
    worker starts, not by the first run's charts. It ends with this process, however that
    ends (see :func:`_exit_with_parent`)."""
    os.nice(10)
    _exit_with_parent()
    importlib.import_module(CHARTS_MODULE)


def _exit_with_parent(every: float = 1.0) -> None:
    """In the chart worker: exit once the process that started it is gone. A process
    killed outright (SIGKILL, the OOM killer) cannot stop its workers, and a worker waiting
    for work never notices by itself (it holds its queue's pipe open at both ends): it
    would wait for ever, holding about 100 MiB."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


#: Drawing's module: imported in the chart worker only, so this process never loads
#: matplotlib (tens of MiB it would keep for the whole life of `golive serve`).
CHARTS_MODULE = f"{__package__.rpartition('.')[0]}.render.charts"


def _draw(language: str, phase: Phase, history: Any) -> Chart | None:
    """In the chart worker: the phase's chart."""
    charts: Any = importlib.import_module(CHARTS_MODULE)
    chart: Chart | None = charts.phase_chart(language, phase, history)
    return chart


def stop_chart_worker() -> None:
    """Stop the chart workers at once, a drawing in progress or not: a shutdown must fit
    its grace, and a picture is not worth a SIGKILL. A later chart starts them afresh."""
    if not _pools:
        return  # never started
    pool = _pools.pop()
    workers = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.terminate()


def start_chart_worker(workers: int = CHART_WORKERS) -> None:
    """Start the chart workers now (``golive serve`` does at start, a command-line run with
    its probes): a worker spawned by a run's first chart would hold that run, and the
    schedule's next slot, for seconds. ``workers``: how many, if none runs yet."""
    pool = chart_pool(workers)
    for _ in range(workers):
        pool.submit(os.getpid)


async def phase_chart(checklist: Checklist, store: Store, release_id: int, phase: Phase) -> Chart | None:
    """The phase's chart over the last runs that observed it, drawn in the chart worker."""
    history = await store.chart_history(release_id, phase.id, limit=HISTORY_RUNS)
    loop = asyncio.get_running_loop()
    try:
        # The language, not the checklist: each chart's arguments are pickled to the
        # worker, and a checklist of a thousand items took 0.1 s of this process's CPU
        # to pickle, per phase.
        language = checklist.release.language
        return await loop.run_in_executor(chart_pool(), _draw, language, phase, history)
    except Exception as exc:  # a picture that cannot be drawn must not stop the GO announcement
        log.warning("could not draw the chart of %s: %s: %s", phase.id, type(exc).__name__, exc)
        return None


async def announce_if_go(
    checklist: Checklist, store: Store, surface: Surface, channel: str, state: State
) -> bool:
    """Post GO with the rollback plan once per GO, if the verdict as of ``state.at`` is GO
    (read afresh: see :mod:`golive.bot.core.transitions`, which numbers and claims GOs). If
    Slack certainly did not post it, the claim is released and the next change or timer
    round announces it (:mod:`golive.bot.core.delivery`)."""
    told = await transitions.announce_change(
        checklist, store, surface, channel, now=lambda: state.at, withdraw=False
    )
    return transitions.Change.GO in told
