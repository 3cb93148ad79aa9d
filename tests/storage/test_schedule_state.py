"""The schedule's state on every backend: pause and resume (audited, changed once), and
slots claimed once and only forwards."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from golive.storage import ScheduleState, Store

from .helpers import T0, new_run


async def test_a_release_nobody_paused_runs(store: Store) -> None:
    release = await store.release_id("r", "1")
    assert await store.schedule_state(release) == ScheduleState()


async def test_pause_and_resume_change_once_and_are_audited(store: Store) -> None:
    release = await store.release_id("r", "1")
    assert not await store.set_schedule_paused(release, False, by="U-ann", at=T0), "never paused"
    first, second = await asyncio.gather(
        store.set_schedule_paused(release, True, by="U-ann", at=T0),
        store.set_schedule_paused(release, True, by="U-bob", at=T0),
    )
    assert sorted([first, second]) == [False, True], "two clicks, one change"
    state = await store.schedule_state(release)
    assert state.paused and state.changed_at == T0 and state.changed_by in ("U-ann", "U-bob")

    later = T0 + timedelta(minutes=5)
    assert await store.set_schedule_paused(release, False, by="U-cat", at=later)
    assert not await store.set_schedule_paused(release, False, by="U-cat", at=later)
    assert await store.schedule_state(release) == ScheduleState(False, "U-cat", later)

    log = await store.audit_log()
    assert [(e.action, e.subject) for e in log] == [("schedule.resume", "r 1"), ("schedule.pause", "r 1")]
    assert log[0].actor == "U-cat"


async def test_slots_are_claimed_once_and_only_forwards(store: Store) -> None:
    release = await store.release_id("r", "1")
    other = await store.release_id("r", "2")
    slot = T0 + timedelta(minutes=15)
    claims = await asyncio.gather(*(store.claim_schedule_slot(release, slot) for _ in range(4)))
    assert sorted(claims) == [False, False, False, True]
    assert not await store.claim_schedule_slot(release, T0), "an older slot is a backlog"
    assert await store.claim_schedule_slot(other, T0), "each release has its own slots"
    assert await store.claim_schedule_slot(release, slot + timedelta(minutes=15))

    later = slot + timedelta(minutes=15)
    run_id = await new_run(store, release, later)
    assert await store.set_schedule_run(release, run_id, slot=later, attempt=1)
    assert not await store.set_schedule_run(release, run_id, slot=slot, attempt=1), "not the last slot"
    state = await store.schedule_state(release)
    assert (state.last_slot_at, state.last_run_id, state.paused, state.slot_attempt) == (
        later,
        run_id,
        False,
        1,
    )
    assert state.slot_done_at is None


async def test_an_unfinished_slot_is_retried_by_one_caller_and_finished_once(store: Store) -> None:
    release = await store.release_id("r", "1")
    slot = T0 + timedelta(minutes=15)
    assert await store.claim_schedule_slot(release, slot)
    first_run = await new_run(store, release, slot)
    assert await store.set_schedule_run(release, first_run, slot=slot, attempt=1)

    # Two new leaders see attempt 1 unfinished: one of them starts attempt 2.
    retries = await asyncio.gather(*(store.retry_schedule_slot(release, slot, 1) for _ in range(3)))
    assert sorted(retries) == [False, False, True]
    state = await store.schedule_state(release)
    assert (state.slot_attempt, state.last_run_id) == (2, None), "the retry forgets the cut-short run"

    # The first attempt's process wakes up late: it can neither claim the slot's run nor finish it.
    assert not await store.set_schedule_run(release, first_run, slot=slot, attempt=1)
    assert not await store.finish_schedule_slot(release, slot=slot, attempt=1, at=slot)
    second_run = await new_run(store, release, slot)
    assert await store.set_schedule_run(release, second_run, slot=slot, attempt=2)
    done = slot + timedelta(minutes=1)
    assert await store.finish_schedule_slot(release, slot=slot, attempt=2, at=done)
    assert not await store.finish_schedule_slot(release, slot=slot, attempt=2, at=done), "finished once"
    assert not await store.retry_schedule_slot(release, slot, 2), "a finished slot is not retried"
    state = await store.schedule_state(release)
    assert (state.last_run_id, state.slot_attempt, state.slot_done_at) == (second_run, 2, done)

    # The next slot starts afresh.
    assert await store.claim_schedule_slot(release, slot + timedelta(minutes=15))
    state = await store.schedule_state(release)
    assert (state.slot_attempt, state.slot_done_at, state.last_run_id) == (1, None, None)


async def test_claiming_keeps_a_pause(store: Store) -> None:
    release = await store.release_id("r", "1")
    await store.set_schedule_paused(release, True, by="U-ann", at=T0)
    assert await store.claim_schedule_slot(release, T0)
    assert (await store.schedule_state(release)).paused
