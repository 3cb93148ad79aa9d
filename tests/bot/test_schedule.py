"""The schedule: when it runs (pure), what a slot does with a clock the test sets, the
``/golive schedule`` command in Slack, and APScheduler really firing and restarting."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from golive.bot.core import scheduler as sched
from golive.bot.core.scheduler import RUN_JOB, ReleaseScheduler, grace, slot_at, upcoming
from golive.bot.ha.database import DatabaseLease, LeaderElection
from golive.checks.model import Schedule, Window
from golive.storage import Store

from .slack_support import CHANNEL, GROUP_MEMBER, OPS, STRANGER, Harness, harness

BERLIN = "Europe/Berlin"
#: Monday 2 March 2026, 09:00 in Berlin (UTC+1).
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def minutes(count: float) -> timedelta:
    return timedelta(minutes=count)


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in March 2026, Berlin wall clock (UTC+1 until the 29th)."""
    return datetime(2026, 3, day, hour - 1, minute, tzinfo=UTC)


def schedule(**fields: object) -> Schedule:
    return Schedule.model_validate(fields)


# -- when it runs ---------------------------------------------------------------------


def test_interval_runs_only_inside_the_daily_window() -> None:
    every = schedule(interval="15m", window={"start": "08:00", "end": "18:00", "timezone": BERLIN})
    trigger = sched.build_trigger(every, anchor=T0)
    assert upcoming(trigger, every.window, berlin(2, 17, 20), 4) == [
        berlin(2, 17, 30),
        berlin(2, 17, 45),
        berlin(3, 8, 0),
        berlin(3, 8, 15),
    ], "18:00 is the end: excluded"


def test_cron_weekdays_mean_what_crontab_means() -> None:
    """APScheduler 3 alone reads 1-5 as Tuesday to Saturday; the checklist's cron means
    Monday to Friday."""
    weekdays = schedule(cron="0 9 * * 1-5", timezone=BERLIN)
    trigger = sched.build_trigger(weekdays, anchor=T0)
    friday = berlin(6, 10)
    assert upcoming(trigger, None, friday, 2) == [berlin(9, 9), berlin(10, 9)]
    sunday = sched.build_trigger(schedule(cron="30 6 * * 0", timezone=BERLIN), anchor=T0)
    assert upcoming(sunday, None, T0, 1) == [berlin(8, 6, 30)]


def test_an_absolute_window_ends_the_schedule() -> None:
    window = {"start": "2026-03-02T10:00", "end": "2026-03-02T12:00", "timezone": BERLIN}
    hourly = schedule(interval="1h", window=window)
    trigger = sched.build_trigger(hourly, anchor=T0)
    assert upcoming(trigger, hourly.window, T0, 5) == [berlin(2, 10), berlin(2, 11)]


def test_a_one_off_window_next_year_names_its_first_run() -> None:
    """A window months ahead is found, however many fire times lie before it."""
    window = {"start": "2027-06-01T10:00", "end": "2027-06-01T12:00", "timezone": BERLIN}
    every = schedule(interval="1m", window=window)
    trigger = sched.build_trigger(every, anchor=T0)
    first = upcoming(trigger, every.window, T0, 2)
    assert first == [datetime(2027, 6, 1, 8, 0, tzinfo=UTC), datetime(2027, 6, 1, 8, 1, tzinfo=UTC)]
    cron = schedule(cron="*/5 * * * *", window=window)
    assert upcoming(sched.build_trigger(cron, anchor=T0), cron.window, T0, 1) == [
        datetime(2027, 6, 1, 8, 0, tzinfo=UTC)
    ]


def test_a_slot_is_due_only_within_its_grace() -> None:
    every = schedule(interval="15m")
    trigger = sched.build_trigger(every, anchor=T0)
    assert grace(every) == timedelta(seconds=60)
    assert slot_at(trigger, T0 + minutes(15), grace(every)) == T0 + minutes(15)
    assert slot_at(trigger, T0 + minutes(15.5), grace(every)) == T0 + minutes(15), "a little late"
    assert slot_at(trigger, T0 + minutes(20), grace(every)) is None, "missed: dropped, not caught up"
    assert slot_at(trigger, T0 + minutes(14.9), grace(every)) is None, "early"
    assert grace(schedule(interval="1m")) == timedelta(seconds=30)


def test_window_bounds_cross_midnight() -> None:
    night = Window(start="22:00", end="06:00", timezone=BERLIN).bounds
    assert night.contains(berlin(2, 23)) and night.contains(berlin(3, 5, 59))
    assert not night.contains(berlin(3, 6)) and not night.contains(berlin(2, 12))


# -- a slot, with the clock set by the test ----------------------------------------------


WINDOWED = {"schedule": {"interval": "15m", "window": {"start": "09:30", "end": "18:00", "timezone": BERLIN}}}


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path, extra=WINDOWED) as built:
        built.bot.scheduler.now = lambda: T0
        yield built


def top_level_posts(h: Harness) -> list[str]:
    return [c.params["text"] for c in h.slack.ok_calls("chat.postMessage") if not c.params.get("thread_ts")]


async def test_slots_run_inside_the_window_once_each(h: Harness) -> None:
    scheduler = h.bot.scheduler
    assert await scheduler.run_due(T0) is None, "09:00: before the window"
    assert h.slack.ok_calls("chat.postMessage") == []
    run_id = await scheduler.run_due(T0 + minutes(30))
    assert run_id is not None
    run = await h.store.run(run_id)
    assert run is not None and run.trigger == "schedule" and run.status == "complete"
    assert len(top_level_posts(h)) == 1 and f"#{run_id}" in top_level_posts(h)[0]
    assert await scheduler.run_due(T0 + minutes(30)) is None, "the same slot again"
    assert await scheduler.run_due(T0 + minutes(37)) is None, "not a slot"
    assert await scheduler.run_due(berlin(2, 18)) is None, "18:00: the window has closed"
    release = await h.store.release_id("Shop", "2.0.0")
    state = await h.store.schedule_state(release)
    assert state.last_slot_at == T0 + minutes(30) and state.last_run_id == run_id
    assert len(await h.store.runs(release)) == 1


async def test_pause_and_resume_from_slack(h: Harness) -> None:
    scheduler = h.bot.scheduler
    await h.command("schedule")
    await h.settle()
    shown = h.slack.answers()[-1]
    blocks = json.dumps(shown.params["blocks"])
    assert "Runs every 15m" in blocks and "09:30" in blocks and "Running" in blocks
    assert "Mon 2026-03-02 09:30 CET" in blocks and "Mon 2026-03-02 09:45 CET" in blocks, "in the window"

    await h.command("schedule pause", user=STRANGER)
    await h.settle()
    assert "Only approvers" in h.slack.answers()[-1].params["text"]
    assert not (await scheduler.state()).paused

    await h.command("schedule pause", user=OPS)
    await h.settle()
    assert any(f"paused by <@{OPS}>" in t for t in top_level_posts(h))
    assert await scheduler.run_due(T0 + minutes(30)) is None, "paused"
    await h.command("schedule pause", user=OPS)
    await h.settle()
    assert "already paused" in h.slack.answers()[-1].params["text"]
    await h.command("schedule")
    await h.settle()
    assert f"Paused by <@{OPS}>" in json.dumps(h.slack.answers()[-1].params["blocks"])

    await h.command("schedule resume", user=GROUP_MEMBER)  # a DevOps user group member
    await h.settle()
    assert any(f"resumed by <@{GROUP_MEMBER}>" in t for t in top_level_posts(h))
    assert await scheduler.run_due(T0 + minutes(45)) is not None
    actions = [e.action for e in await h.store.audit_log()]
    assert actions.count("schedule.pause") == 1 and actions.count("schedule.resume") == 1

    await h.command("schedule sometimes")
    await h.settle()
    assert "Usage: `/golive schedule" in h.slack.answers()[-1].params["text"]


async def test_schedule_says_which_replica_leads(h: Harness) -> None:
    async def shown() -> str:
        await h.command("schedule")
        await h.settle()
        return json.dumps(h.slack.answers()[-1].params["blocks"])

    assert "leader" not in (await shown()).lower(), "no election in this process: nothing said"

    async def nothing(*_: object) -> None:
        pass

    def join(holder: str) -> LeaderElection:
        lease = timedelta(seconds=30)
        return LeaderElection(h.store, DatabaseLease(h.store), holder, lease, nothing, nothing)

    here, there = join("golive-0:7:aa"), join("golive-1:7:bb")
    h.bot.election = there
    assert "No replica leads right now" in await shown()
    await here.step()
    await there.step()
    assert "Run by the leader `golive-0:7:aa`." in await shown(), "a follower names the leader"
    h.bot.election = here
    assert "Run by the leader `golive-0:7:aa` (this replica)." in await shown()


async def test_a_restart_runs_no_backlog(h: Harness, tmp_path: Path) -> None:
    assert await h.bot.scheduler.run_due(T0 + minutes(30)) is not None
    # Down from 09:35 to 11:07: the slots in between are never run.
    async with await Store.open(f"sqlite:///{tmp_path / 'golive.db'}") as store:
        restarted = ReleaseScheduler(
            h.bot.checklist,
            store,
            h.bot.surface,
            CHANNEL,
            h.bot.scheduler.notifier,
            asyncio.Lock(),
            now=lambda: berlin(2, 11, 7),
        )
        assert await restarted.next_runs(2) == [berlin(2, 11, 15), berlin(2, 11, 30)]
        assert await restarted.run_due(berlin(2, 11, 7)) is None
        assert await restarted.run_due(T0 + minutes(30)) is None, "the slot already run"
        assert await restarted.run_due(berlin(2, 11, 15)) is not None
    release = await h.store.release_id("Shop", "2.0.0")
    assert len(await h.store.runs(release)) == 2


async def test_a_run_in_flight_skips_the_slot(h: Harness) -> None:
    async with h.bot.scheduler.run_lock:
        assert await h.bot.scheduler.run_due(T0 + minutes(30)) is None
    assert await h.bot.scheduler.run_due(T0 + minutes(45)) is not None


async def test_schedule_in_slack_names_the_first_run_of_a_window_next_year(tmp_path: Path) -> None:
    """The reply names the first slot, however far ahead the window lies (not "No run ahead")."""
    year = datetime.now(UTC).year + 1
    window = {"start": f"{year}-12-01T10:00", "end": f"{year}-12-01T12:00", "timezone": BERLIN}
    async with harness(tmp_path, extra={"schedule": {"interval": "1m", "window": window}}) as h:
        await h.command("schedule")
        await h.settle()
        answer = json.dumps(h.slack.answers()[-1].params, ensure_ascii=False)
        assert f"{year}-12-01" in answer, answer
        assert "No run ahead" not in answer


async def test_without_a_schedule(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.command("schedule")
        await h.settle()
        assert "No schedule" in h.slack.answers()[-1].params["text"]
        await h.command("schedule pause", user=OPS)
        await h.settle()
        assert "No schedule" in h.slack.answers()[-1].params["text"]
        assert await h.bot.scheduler.run_due() is None


# -- APScheduler itself, on the real clock -------------------------------------------------


async def test_apscheduler_job_after_a_restart_is_the_next_slot(tmp_path: Path) -> None:
    async with harness(tmp_path, extra={"schedule": {"interval": "15m"}}) as h:
        now = datetime.now(UTC).replace(microsecond=0)
        release = await h.store.release_id("Shop", "2.0.0")
        last = now - timedelta(hours=2, minutes=7)
        assert await h.store.claim_schedule_slot(release, last)
        scheduler = h.bot.scheduler
        await scheduler.start()
        try:
            job = scheduler.job(RUN_JOB)
            assert job.next_run_time == last + 9 * minutes(15), "8 missed slots skipped, the next one kept"
            assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 60
            assert scheduler.job(sched.WATCH_JOB) is None, "no trigger to watch"
        finally:
            scheduler.shutdown()
        assert await h.store.runs(release) == []


async def test_apscheduler_fires_and_a_pause_stops_it(tmp_path: Path) -> None:
    async with harness(tmp_path, extra={"schedule": {"interval": "1s"}}) as h:
        scheduler = h.bot.scheduler
        release = await h.store.release_id("Shop", "2.0.0")
        await scheduler.start()
        try:
            for _ in range(200):  # one run finished, the next slot started
                runs = await h.store.runs(release)
                if len(runs) >= 2:
                    break
                await asyncio.sleep(0.05)
            assert [r.trigger for r in runs] == ["schedule", "schedule"] and runs[1].status == "complete"
            await scheduler.set_paused(True, OPS)
            while h.bot.scheduler.run_lock.locked():
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.2)  # a slot a second: one would have started by now
            assert len(await h.store.runs(release)) == 2
        finally:
            scheduler.shutdown()
