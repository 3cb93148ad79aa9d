"""Runs on a schedule, with APScheduler 3's ``AsyncIOScheduler``.

The checklist's ``schedule:`` gives an interval or a cron expression, and a window
outside which nothing runs. Three jobs:

- ``golive-schedule`` runs the checklist (``publish_run_message`` with trigger ``schedule``),
  then the notifier's after-run work (alerts, sign-off invalidation, GO withdrawal);
- ``golive-rollback-watch`` evaluates the rollback triggers every minute while GO stands;
- ``golive-verdict-watch`` re-evaluates the verdict every ``verdict_interval`` (default
  30 seconds), with or without a schedule, so that what changes with time alone (a
  sign-off or waiver expiring, evidence going stale) withdraws GO without waiting for
  a run or a click (:mod:`golive.bot.core.transitions`).

A restart never runs a backlog, for three reasons that hold independently:

1. the job store is in memory: a new process knows of no missed runs, and its first run
   is the next slot at or after start (an interval continues from the last slot run, as
   stored, so slots stay where they were);
2. ``coalesce`` folds run times missed while the loop was busy into one, and
   ``misfire_grace_time`` drops that one if it is older than the grace;
3. every run first claims its slot in the database (``Store.claim_schedule_slot``), which
   only a slot later than the last one run can win: a slot runs once, in one process.

Only the leader among the replicas runs these jobs (:mod:`golive.bot.ha.database`). A new
leader first calls :meth:`ReleaseScheduler.catch_up`: the last slot, if a process that
died left it unfinished, gets its notifications (its run completed) or runs again (its run
was cut short); then a slot that fell due during the takeover runs late, within the grace.
Each slot's attempts are counted in the database, so of two processes only one re-runs it,
and a run that kills its process every time is given up after ``MAX_ATTEMPTS``.

``max_instances=1`` and the bot's run lock keep a scheduled run from overlapping another
run; a slot that finds a run in flight is skipped, not queued.

The pause flag lives in the database and is read at each slot, so it survives restarts.
Pausing stops scheduled runs, not the rollback and verdict watches: a standing GO stays
watched.
The clock is injectable (``now``): tests call :meth:`ReleaseScheduler.run_due` at chosen
times rather than wait for APScheduler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ...checks.model import Checklist, Schedule, Window
from ...checks.timing import cron_fields, zone
from ...settings import DEFAULT_VERDICT_INTERVAL, load_settings
from ...storage import RunAborted, RunInfo, ScheduleState, Store
from ..ops.metrics import METRICS
from . import transitions, usecases
from .delivery import resume_outbox
from .notify import Notifier, watched_triggers
from .progress import watch_run
from .publish import announce_if_go, close_orphaned_message, publish_run_message
from .surface import LeaderOnly, Surface

log = logging.getLogger(__name__)

RUN_JOB = "golive-schedule"
WATCH_JOB = "golive-rollback-watch"
#: How late a slot may still start (the loop was busy, the machine slept); later ones
#: are dropped. Halved for intervals under two minutes, so that a slot is always the
#: one fire time within the grace before "now".
MISFIRE_GRACE = timedelta(seconds=60)
WATCH_INTERVAL = timedelta(seconds=60)
VERDICT_JOB = "golive-verdict-watch"
#: How often the leader re-evaluates the verdict: how late, at most, an expiry is told.
VERDICT_INTERVAL = DEFAULT_VERDICT_INTERVAL


def verdict_interval() -> timedelta:
    """``GOLIVE_VERDICT_SECONDS`` (default 30): how often the leader re-evaluates the verdict."""
    return load_settings().verdict_interval


#: Fire times looked at when listing upcoming runs (a window may be far ahead).
_LOOKAHEAD = 20_000
_TICK = timedelta(microseconds=1)
#: Attempts at one slot before a new leader stops re-running it: a run that kills its
#: process every time must not take every replica down in turn.
MAX_ATTEMPTS = 3


def build_trigger(schedule: Schedule, anchor: datetime) -> BaseTrigger:
    """``anchor``: where an interval's slots are counted from (ignored by cron)."""
    tz = zone(schedule.zone_name)
    if schedule.cron is not None:
        return CronTrigger(**cron_fields(schedule.cron), timezone=tz)
    assert schedule.interval is not None
    return IntervalTrigger(seconds=schedule.interval.total_seconds(), start_date=anchor, timezone=tz)


def grace(schedule: Schedule) -> timedelta:
    if schedule.interval is not None:
        return min(MISFIRE_GRACE, schedule.interval / 2)
    return MISFIRE_GRACE / 2  # cron fires at most once a minute


def slot_at(trigger: BaseTrigger, now: datetime, within: timedelta) -> datetime | None:
    """The fire time a job starting at ``now`` belongs to: the one in (now - within, now],
    or None when no slot is due (the caller is early, or later than the grace)."""
    candidate: datetime | None = trigger.get_next_fire_time(None, now - within + _TICK)
    if candidate is None or candidate > now:
        return None
    return candidate


def upcoming(trigger: BaseTrigger, window: Window | None, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times at or after ``after`` that lie in ``window``."""
    bounds = window.bounds if window is not None else None
    found: list[datetime] = []
    at: datetime | None = trigger.get_next_fire_time(None, after)
    for _ in range(_LOOKAHEAD):
        if at is None or len(found) >= count:
            break
        if bounds is not None and bounds.start is not None and bounds.end is not None:
            if at >= bounds.end:
                break
            if at < bounds.start:
                # A one-off window far ahead: go straight to its opening rather than
                # stepping through every fire time before it.
                at = trigger.get_next_fire_time(None, bounds.start)
                continue
        if bounds is None or bounds.contains(at):
            found.append(at)
        at = trigger.get_next_fire_time(at, at + _TICK)
    return found


@dataclass
class ReleaseScheduler:
    checklist: Checklist
    store: Store
    surface: Surface
    channel: str
    notifier: Notifier
    run_lock: asyncio.Lock
    now: Callable[[], datetime] = field(default=usecases.utcnow)
    verdict_interval: timedelta = VERDICT_INTERVAL
    #: Whether this replica's leader lease stands right now (``LeaderElection.still_leading``);
    #: asked before every claim and every message, so that a leader paused past its
    #: lease does nothing when it wakes. Always true for a lone process without election.
    leading: Callable[[], bool] = field(default=lambda: True)
    trigger: BaseTrigger | None = field(default=None, init=False)
    _scheduler: AsyncIOScheduler | None = field(default=None, init=False, repr=False)
    #: The task running a scheduled run, while one runs.
    _running: asyncio.Task[Any] | None = field(default=None, init=False, repr=False)
    #: Scheduled work started by APScheduler's job, in tasks of its own (see ``_run_job``).
    _jobs: set[asyncio.Task[Any]] = field(default_factory=set, init=False, repr=False)

    @property
    def schedule(self) -> Schedule | None:
        return self.checklist.schedule

    async def _release_id(self) -> int:
        return await self.store.release_id(self.checklist.release.name, self.checklist.release.version)

    async def prepare(self) -> None:
        """Build the trigger; an interval continues from the last slot run before."""
        if self.schedule is None:
            return
        state = await self.store.schedule_state(await self._release_id())
        self.trigger = build_trigger(self.schedule, state.last_slot_at or self.now())

    async def start(self) -> None:
        """Start APScheduler's jobs on the running loop (the leader does, when elected);
        jobs started before are stopped first."""
        self.shutdown()
        await self.prepare()
        scheduler = AsyncIOScheduler(timezone=UTC)
        if self.schedule is not None and self.trigger is not None:
            first = self.trigger.get_next_fire_time(None, self.now())
            scheduler.add_job(
                self._run_job,
                self.trigger,
                id=RUN_JOB,
                name="run the checklist",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(1, int(grace(self.schedule).total_seconds())),
                next_run_time=first,
            )
            log.info("schedule: first run at %s", first)
            METRICS.schedule_active.set(1)
        if watched_triggers(self.checklist):
            scheduler.add_job(
                self._watch_job,
                IntervalTrigger(seconds=WATCH_INTERVAL.total_seconds(), timezone=UTC),
                id=WATCH_JOB,
                name="rollback watch",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(WATCH_INTERVAL.total_seconds() / 2),
            )
        scheduler.add_job(
            self._verdict_job,
            IntervalTrigger(seconds=self.verdict_interval.total_seconds(), timezone=UTC),
            id=VERDICT_JOB,
            name="verdict watch",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(self.verdict_interval.total_seconds() / 2)),
        )
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self, *, cancel_run: bool = False) -> None:
        """Stop starting jobs. A scheduled run in flight is left to finish (a shutdown
        waits for it), unless ``cancel_run``: a leader that lost its lease stops its run,
        which its successor re-runs."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
        METRICS.schedule_active.set(0)
        if cancel_run and self._running is not None and not self._running.done():
            log.warning("schedule: the leader lease is lost; cancelling the scheduled run in flight")
            self._running.cancel()

    def in_flight(self) -> set[asyncio.Task[Any]]:
        """Scheduled work under way; a shutdown lets it finish within its grace."""
        return {task for task in self._jobs if not task.done()}

    def job(self, job_id: str) -> Any:
        """APScheduler's job (for diagnostics and tests); None when not scheduled."""
        return self._scheduler.get_job(job_id) if self._scheduler is not None else None

    async def _run_job(self) -> None:
        # APScheduler's shutdown cancels the jobs it runs; a shutdown must instead let the
        # run in flight finish within its grace, so the run goes on in a task of its own.
        task = asyncio.create_task(self._run_due_logged())
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                log.info("schedule: stopped; the run in flight goes on until it is done")

    async def _run_due_logged(self) -> None:
        try:
            await self.run_due()
        except RunAborted as exc:
            log.warning("schedule: %s (the replica that took over runs the slot)", exc)
        except Exception:
            log.exception("scheduled run failed")

    async def _watch_job(self) -> None:
        if not self.leading():
            log.warning("rollback watch: the leader lease may have lapsed; left to the leader")
            return
        try:
            await self.notifier.check_rollback()
        except Exception:
            log.exception("rollback watch failed")

    async def _verdict_job(self) -> None:
        try:
            await self.check_verdict()
        except Exception:
            log.exception("verdict watch failed")

    async def check_verdict(self, now: datetime | None = None) -> list[transitions.Change]:
        """Tell the channel if the verdict changed as of ``now`` (by default the clock):
        a withdrawal names what expired. Claims keep a change from being told twice."""
        at = now or self.now()
        # A change told earlier whose post Slack did not take waits in the outbox: it goes
        # out first, so the channel hears the changes in the order they happened.
        await resume_outbox(self.store, self.surface, await self._release_id())
        return await transitions.announce_change(
            self.checklist, self.store, self.surface, self.channel, now=lambda: at
        )

    async def run_due(self, now: datetime | None = None) -> int | None:
        """Run the slot due at ``now``, if there is one, it lies in the window, the schedule
        is not paused and no other process or earlier call ran it. The run's id, or None."""
        schedule = self.schedule
        if schedule is None:
            return None
        if self.trigger is None:
            await self.prepare()
        assert self.trigger is not None
        at = now or self.now()
        slot = slot_at(self.trigger, at, grace(schedule))
        if slot is None:
            return None
        if schedule.window is not None and not schedule.window.bounds.contains(slot):
            log.debug("schedule: slot %s is outside the window", slot)
            return None
        release_id = await self._release_id()
        if (await self.store.schedule_state(release_id)).paused:
            log.info("schedule: paused, slot %s not run", slot)
            return None
        if self.run_lock.locked():
            log.info("schedule: a run is in flight, slot %s skipped", slot)
            return None
        async with self.run_lock:
            if not self._still_leading(slot):
                return None
            if not await self.store.claim_schedule_slot(release_id, slot):
                return None
            run_id, post_thread = await self._run(release_id, slot, attempt=1)
        await post_thread()  # summaries and charts, with the lock free for the next run
        return run_id

    async def resume(self, now: datetime | None = None) -> int | None:
        """Finish the last slot if a process that died left it unfinished (a new leader
        calls this once elected, after the runs of dead processes were marked aborted).

        A slot whose run completed gets its notifications (claims keep any already sent
        from repeating); a slot whose run was cut short, or never started, runs again. A
        slot the next one has already superseded is left alone, as is one whose run is
        still in flight in a live process. The run's id, or None."""
        if self.schedule is None:
            return None
        if self.trigger is None:
            await self.prepare()
        assert self.trigger is not None
        release_id = await self._release_id()
        state = await self.store.schedule_state(release_id)
        slot = state.last_slot_at
        if slot is None or state.slot_done_at is not None or state.paused:
            return None
        following = self.trigger.get_next_fire_time(slot, slot + _TICK)
        if following is not None and following <= (now or self.now()):
            log.info("schedule: slot %s left unfinished, superseded by the slot %s", slot, following)
            await self._close_orphan(release_id, state.last_run_id)
            return None
        if state.slot_attempt >= MAX_ATTEMPTS:
            log.error(
                "schedule: slot %s not tried again: %d attempts ended unfinished", slot, state.slot_attempt
            )
            await self._close_orphan(release_id, state.last_run_id)
            return None
        run = await self.store.run(state.last_run_id) if state.last_run_id is not None else None
        if run is not None and run.status == "running":
            return None  # its process is alive (orphans were aborted before): it finishes it
        async with self.run_lock:
            if not self._still_leading(slot):
                return None
            if not await self.store.retry_schedule_slot(release_id, slot, state.slot_attempt):
                return None
            attempt = state.slot_attempt + 1
            if run is not None and run.status == "complete":
                log.info("schedule: run %s of slot %s completed; sending what it left unsent", run.id, slot)
                await self.store.set_schedule_run(release_id, run.id, slot=slot, attempt=attempt)
                current = await usecases.current_state(self.checklist, self.store, now=self.now)
                await self.notifier.after_run(run.id, current)
                await self.store.finish_schedule_slot(release_id, slot=slot, attempt=attempt, at=self.now())
                return run.id
            left = f"run {run.id} was {run.status}" if run is not None else "no run had started"
            log.warning("schedule: running slot %s again (attempt %d): %s", slot, attempt, left)
            run_id, post_thread = await self._run(release_id, slot, attempt=attempt, replacing=run)
        await post_thread()  # summaries and charts, with the lock free for the next run
        return run_id

    async def catch_up(self) -> None:
        """What a new leader does first: finish the slot its predecessor left, then run a
        slot that fell due during the takeover (within the grace); APScheduler's job takes
        the slots after that."""
        try:
            await self.resume()
            await self.run_due()
        except RunAborted as exc:
            log.warning("schedule: %s (the replica that took over runs the slot)", exc)
        except Exception:
            log.exception("schedule: catching up after the election failed")

    async def _close_orphan(self, release_id: int, run_id: int | None) -> None:
        """The aborted run of a slot that is not run again: its message says it stopped,
        once (claimed, as every notification is), whichever leader gets here first."""
        run = await self.store.run(run_id) if run_id is not None else None
        if run is None or run.status != "aborted" or run.message_ts is None or not self.leading():
            return
        if await self.store.claim_notification(release_id, f"stopped:{run.id}", at=self.now()):
            await close_orphaned_message(self.checklist, LeaderOnly(self.surface, self.leading), run)

    def _still_leading(self, slot: datetime) -> bool:
        if self.leading():
            return True
        log.warning("schedule: the leader lease may have lapsed; slot %s left to the leader", slot)
        return False

    async def _run(
        self, release_id: int, slot: datetime, *, attempt: int, replacing: RunInfo | None = None
    ) -> tuple[int, Callable[[], Awaitable[None]]]:
        """Run the slot (the caller holds the run lock). Returns the run's id and what posts
        its summaries and charts in its thread, for the caller to call once it let go of
        the lock."""
        self._running = asyncio.current_task()
        surface = LeaderOnly(self.surface, self.leading)
        try:
            async with watch_run(self.checklist, self.store, "schedule") as watch:

                async def started(run_id: int) -> None:
                    await watch.started(run_id)
                    await self.store.set_schedule_run(release_id, run_id, slot=slot, attempt=attempt)

                async def posted(run_id: int, ts: str) -> None:
                    if replacing is not None and replacing.status == "aborted":
                        await close_orphaned_message(
                            self.checklist, surface, replacing, rerun=(run_id, self.channel, ts)
                        )

                published = await publish_run_message(
                    self.checklist,
                    self.store,
                    surface,
                    self.channel,
                    trigger="schedule",
                    on_start=started,
                    on_result=watch.result,
                    on_posted=posted,
                    slot_at=slot,
                )
                run_id = published.run_id
                state = await usecases.release_state(published.state, self.store)
                watch.completed(state)
                if not self.leading() or await self._superseded(release_id, slot, attempt):
                    # This process was taken for dead (paused past its lease) and another
                    # re-runs the slot: the notifications are the successor's to send.
                    log.warning(
                        "schedule: slot %s was taken over meanwhile; run %s sends nothing", slot, run_id
                    )
                    return run_id, published.post_thread
                await announce_if_go(self.checklist, self.store, surface, self.channel, state)
                # Inside the watch: a shutdown waits for the alerts too (runs_in_flight).
                await self.notifier.after_run(run_id, state)
                await self.store.finish_schedule_slot(release_id, slot=slot, attempt=attempt, at=self.now())
            return run_id, published.post_thread
        finally:
            self._running = None

    async def _superseded(self, release_id: int, slot: datetime, attempt: int) -> bool:
        state = await self.store.schedule_state(release_id)
        return state.last_slot_at != slot or state.slot_attempt != attempt

    # -- what /golive schedule shows and changes ----------------------------------------

    async def state(self) -> ScheduleState:
        return await self.store.schedule_state(await self._release_id())

    async def next_runs(self, count: int = 5) -> list[datetime]:
        if self.schedule is None:
            return []
        # Built anew: on a replica that does not lead, the slots run since started count.
        await self.prepare()
        assert self.trigger is not None
        return upcoming(self.trigger, self.schedule.window, self.now(), count)

    async def set_paused(self, paused: bool, user: str) -> bool:
        """Pause or resume for everyone (stored); False when it already was so."""
        return await self.store.set_schedule_paused(await self._release_id(), paused, by=user, at=self.now())
