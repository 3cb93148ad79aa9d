"""Leases on every backend: one holder at a time, renewals, lapse and takeover with a new
term, release; and runs left by processes whose replica lease lapsed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from golive.storage import Store

from .conftest import Backend
from .helpers import T0, new_run

LEASE = timedelta(seconds=15)


async def test_one_holder_at_a_time_and_renewals_keep_the_term(store: Store) -> None:
    first = await store.acquire_lease("golive-leader", "a", LEASE, now=T0)
    assert first.held_by("a") and first.term == 1 and first.expires_in == LEASE
    other = await store.acquire_lease("golive-leader", "b", LEASE, now=T0 + timedelta(seconds=5))
    assert not other.held_by("b")
    assert (other.holder, other.term, other.expires_in) == ("a", 1, timedelta(seconds=10))
    renewed = await store.acquire_lease("golive-leader", "a", LEASE, now=T0 + timedelta(seconds=10))
    assert renewed.held_by("a") and renewed.term == 1 and renewed.expires_in == LEASE
    still = await store.acquire_lease("golive-leader", "b", LEASE, now=T0 + timedelta(seconds=20))
    assert still.holder == "a", "renewed at 10 s, the lease stands until 25 s"


async def test_a_lapsed_lease_changes_hands_with_a_new_term(store: Store) -> None:
    await store.acquire_lease("golive-leader", "a", LEASE, now=T0)
    taken = await store.acquire_lease("golive-leader", "b", LEASE, now=T0 + LEASE)
    assert taken.held_by("b") and taken.term == 2
    late = await store.acquire_lease("golive-leader", "a", LEASE, now=T0 + LEASE + timedelta(seconds=1))
    assert not late.held_by("a") and late.holder == "b", "the old holder comes back to a lease it lost"


async def test_of_many_asking_at_once_one_holds_it(store: Store) -> None:
    states = await asyncio.gather(
        *(store.acquire_lease("golive-leader", f"r{n}", LEASE, now=T0) for n in range(5))
    )
    holders = {f"r{n}" for n, state in enumerate(states) if state.held_by(f"r{n}")}
    assert len(holders) == 1
    assert (await store.lease("golive-leader")).holder in holders  # type: ignore[union-attr]


async def test_a_released_lease_is_free_at_once(store: Store) -> None:
    await store.acquire_lease("golive-leader", "a", LEASE, now=T0)
    assert not await store.release_lease("golive-leader", "b"), "only the holder releases"
    assert await store.release_lease("golive-leader", "a")
    taken = await store.acquire_lease("golive-leader", "b", LEASE, now=T0 + timedelta(seconds=1))
    assert taken.held_by("b") and taken.term == 2


async def test_the_database_clock_decides_when_no_time_is_given(store: Store) -> None:
    short = timedelta(seconds=1)
    assert (await store.acquire_lease("golive-leader", "a", short)).held_by("a")
    assert not (await store.acquire_lease("golive-leader", "b", short)).held_by("b")
    await asyncio.sleep(1.1)
    assert (await store.acquire_lease("golive-leader", "b", short)).held_by("b")


async def test_runs_of_gone_processes_are_aborted_and_live_ones_left(store: Store, backend: Backend) -> None:
    release = await store.release_id("r", "1")
    store.holder = "alive"
    await store.acquire_lease("replica:alive", "alive", LEASE, now=T0)
    live = await new_run(store, release, T0)
    store.holder = "dead"
    await store.acquire_lease("replica:dead", "dead", LEASE, now=T0)
    orphan = await new_run(store, release, T0)
    store.holder = None
    ownerless = await new_run(store, release, T0)
    store.holder = "alive"
    finished = await new_run(store, release, T0)
    await store.finish_run(finished, finished_at=T0, verdict="NO-GO", fingerprint="f")

    later = T0 + timedelta(seconds=10)
    assert await store.abort_orphaned_runs(at=later, now=later) == [ownerless]
    await store.acquire_lease("replica:alive", "alive", LEASE, now=later)  # only "alive" renews
    after = T0 + LEASE + timedelta(seconds=1)
    assert await store.abort_orphaned_runs(at=after, now=after) == [orphan]
    statuses = {run_id: (await store.run(run_id)).status for run_id in (live, orphan, finished)}  # type: ignore[union-attr]
    assert statuses == {live: "running", orphan: "aborted", finished: "complete"}
    assert (await store.run(live)).owner == "alive"  # type: ignore[union-attr]

    # A process that ends releases its replica lease: its runs are orphans at once.
    assert await store.release_lease("replica:alive", "alive")
    assert await store.lease("replica:alive") is None
    assert await store.abort_orphaned_runs(at=after, now=after) == [live]
