"""Leader election on the database lease, in one process (each participant with a store of
its own, as replicas have), and what a new leader does with the slot its predecessor left.
The three-process test on PostgreSQL is tests/bot/test_replicas.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from golive.bot.core import usecases
from golive.bot.core.scheduler import MAX_ATTEMPTS, ReleaseScheduler
from golive.bot.ha.database import DatabaseLease, LeaderElection, lease_duration, replica_lease
from golive.storage import Store
from tests.services.postgres import PostgresDatabase, PostgresServer, stoppable_server

from .slack_support import CHANNEL, Harness, harness

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin
WINDOWED = {"schedule": {"interval": "15m"}}


def minutes(count: float) -> timedelta:
    return timedelta(minutes=count)


# -- the election --------------------------------------------------------------------------


@dataclass
class Participant:
    """A replica's part in the election, with what its hooks were told."""

    store: Store
    election: LeaderElection = field(init=False)
    events: list[str] = field(default_factory=list)

    def join(self, holder: str, duration: timedelta) -> Participant:
        async def elected(term: int) -> None:
            self.events.append(f"elected:{term}")

        async def deposed() -> None:
            self.events.append("deposed")

        self.election = LeaderElection(
            self.store, DatabaseLease(self.store), holder, duration, elected, deposed
        )
        return self


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'golive.db'}"
    database: PostgresDatabase = request.getfixturevalue("postgres_database")
    return database.url


@pytest.fixture
async def three(db_url: str) -> AsyncIterator[list[Participant]]:
    stores = [await Store.open(db_url) for _ in range(3)]
    yield [Participant(store).join(f"replica-{n}", timedelta(seconds=1)) for n, store in enumerate(stores)]
    for store in stores:
        await store.close()


def leaders(participants: list[Participant]) -> list[Participant]:
    return [p for p in participants if p.election.leading]


async def test_one_of_three_leads_and_a_dead_leaders_lease_passes_on(three: list[Participant]) -> None:
    for participant in three:
        await participant.election.step()
    assert len(leaders(three)) == 1
    leader = leaders(three)[0]
    assert leader.events == ["elected:1"]
    for _ in range(3):  # renewals change nothing
        for participant in three:
            await participant.election.step()
    assert leaders(three) == [leader] and leader.events == ["elected:1"]

    # The leader stops renewing, as a killed process does; the others keep asking.
    died = time.monotonic()
    others = [p for p in three if p is not leader]
    while not leaders(others):
        assert time.monotonic() - died < 2.0, "no takeover within the lease and a retry"
        for participant in others:
            await participant.election.step()
        await asyncio.sleep(0.02)
    took = time.monotonic() - died
    assert took > 0.6, f"taken over after {took:.2f} s: before the lease (1 s) could have lapsed"
    successor = leaders(others)[0]
    assert len(leaders(others)) == 1 and successor.events == ["elected:2"]

    # The old leader wakes up: it learns at its next step that it lost, and stops.
    await leader.election.step()
    assert not leader.election.leading and leader.events == ["elected:1", "deposed"]
    assert leaders(three) == [successor]


async def test_a_leader_that_missed_another_term_starts_afresh(db_url: str) -> None:
    """Paused through someone else's whole term: its jobs are stopped and started again,
    not started twice."""
    stores = [await Store.open(db_url) for _ in range(2)]
    try:
        short = timedelta(seconds=0.3)
        a, b = (Participant(store).join(name, short) for store, name in zip(stores, "ab", strict=True))
        await a.election.step()
        await asyncio.sleep(0.35)
        await b.election.step()  # a's lease lapsed: b's term
        await asyncio.sleep(0.35)
        await a.election.step()  # b's lapsed too: a leads again, in a new term
        assert a.events == ["elected:1", "deposed", "elected:3"]
        assert b.events == ["elected:2"]
    finally:
        for store in stores:
            await store.close()


async def test_a_leader_that_resigns_is_replaced_at_once(three: list[Participant]) -> None:
    stop = [asyncio.Event() for _ in three]
    loops = [asyncio.create_task(p.election.run(s)) for p, s in zip(three, stop, strict=True)]
    try:
        while not leaders(three):
            await asyncio.sleep(0.01)
        leader = leaders(three)[0]
        index = three.index(leader)
        resigned = time.monotonic()
        stop[index].set()
        await loops[index]
        assert leader.events == ["elected:1", "deposed"]
        assert await leader.store.lease(replica_lease(leader.election.holder)) is None, (
            "replica lease released"
        )
        while not leaders(three):
            await asyncio.sleep(0.01)
        # Followers ask again within a few retry intervals (0.1 s), not after the lease (1 s).
        assert time.monotonic() - resigned < 0.6
        assert len(leaders(three)) == 1 and leaders(three)[0].events == ["elected:2"]
    finally:
        for event in stop:
            event.set()
        await asyncio.gather(*loops)
    assert leaders(three) == []


def test_the_lease_duration_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOLIVE_LEASE_SECONDS", raising=False)
    assert lease_duration() == timedelta(seconds=15)
    monkeypatch.setenv("GOLIVE_LEASE_SECONDS", "4.5")
    assert lease_duration() == timedelta(seconds=4.5)
    for bad, says in (("soon", "not a number"), ("0.2", "too short")):
        monkeypatch.setenv("GOLIVE_LEASE_SECONDS", bad)
        with pytest.raises(ValueError, match=f"GOLIVE_LEASE_SECONDS='{bad}' is {says}"):
            lease_duration()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of its own: the test stops it."""
    with stoppable_server() as server:
        yield server


@pytest.mark.services
async def test_a_leader_that_cannot_renew_steps_down_before_its_lease_lapses(
    own_postgres: PostgresServer,
) -> None:
    store = await Store.open(own_postgres.url("golive"))
    try:
        leader = Participant(store).join("replica-0", timedelta(seconds=3))
        await leader.election.step()
        renewed = time.monotonic()
        assert leader.election.leading
        own_postgres.run("pg_ctl", "stop", "-D", own_postgres.data_dir, "-m", "fast", "-w")
        while leader.election.leading:
            await asyncio.sleep(await leader.election.step())
        stepped_down = time.monotonic() - renewed
        assert leader.events == ["elected:1", "deposed"]
        assert stepped_down < 3.0, f"still leading {stepped_down:.2f} s after the last renewal"
        assert stepped_down > 1.5, "stepped down at the first failure, not when the lease was at risk"

        own_postgres.start(init=False)
        while not leader.election.leading:
            await asyncio.sleep(await leader.election.step())
        assert leader.events == ["elected:1", "deposed", "elected:1"], "its own lapsed lease, same term"
    finally:
        await store.close()


# -- the slot a dead leader left --------------------------------------------------------------


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path, extra=WINDOWED) as built:
        built.bot.scheduler.now = lambda: T0
        yield built


@pytest.fixture
async def successor_store(tmp_path: Path) -> AsyncIterator[Store]:
    """The next leader's own connection to the same database."""
    async with await Store.open(f"sqlite:///{tmp_path / 'golive.db'}") as store:
        store.holder = "successor"
        yield store


def successor(h: Harness, store: Store, now: datetime) -> ReleaseScheduler:
    bot = h.bot
    return ReleaseScheduler(
        bot.checklist, store, bot.surface, CHANNEL, bot.scheduler.notifier, asyncio.Lock(), now=lambda: now
    )


def run_posts(h: Harness, run_id: int) -> list[str]:
    """Top-level run messages of this run (its thread holds the phase summaries)."""
    texts = [
        str(c.params["text"]) for c in h.slack.ok_calls("chat.postMessage") if not c.params.get("thread_ts")
    ]
    return [t for t in texts if f"#{run_id}" in t]


async def _first_running_run(store: Store) -> int:
    release = await store.release_id("Shop", "2.0.0")
    for _ in range(400):
        running = [r.id for r in await store.runs(release) if r.status == "running"]
        if running:
            return running[0]
        await asyncio.sleep(0.025)
    raise AssertionError("no run started")


async def _message_stored(store: Store, run_id: int) -> None:
    """Until the run's message is in Slack and its place stored: a leader cut short before
    then leaves no message to finish."""
    for _ in range(400):
        run = await store.run(run_id)
        if run is not None and run.message_ts is not None:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the run's message was not stored")


async def test_a_slot_cut_short_runs_again_once(h: Harness, successor_store: Store) -> None:
    slot = T0 + minutes(30)
    h.target.delay = 5.0  # the leader's run hangs on the health probe ...
    leader_run = asyncio.create_task(h.bot.scheduler.run_due(slot))
    cut_short = await _first_running_run(h.store)
    leader_run.cancel()  # ... and ends with the leader
    with pytest.raises(asyncio.CancelledError):
        await leader_run
    h.target.delay = 0.0
    release = await h.store.release_id("Shop", "2.0.0")
    assert (await h.store.run(cut_short)).status == "aborted"  # type: ignore[union-attr]

    taking_over = successor(h, successor_store, slot + timedelta(seconds=20))
    rerun = await taking_over.resume()
    assert rerun is not None and rerun != cut_short
    info = await successor_store.run(rerun)
    assert (
        info is not None and info.status == "complete" and info.slot_at == slot and info.owner == "successor"
    )
    state = await successor_store.schedule_state(release)
    assert (state.last_run_id, state.slot_attempt) == (rerun, 2) and state.slot_done_at is not None
    assert len(run_posts(h, rerun)) == 1

    assert await taking_over.resume() is None, "done: not again"
    assert await taking_over.run_due(slot + timedelta(seconds=20)) is None, "the slot is claimed"
    scheduled = [r for r in await successor_store.runs(release) if r.slot_at == slot]
    assert sorted(r.status for r in scheduled) == ["aborted", "complete"]


async def test_a_completed_run_gets_the_notifications_its_leader_did_not_send(
    h: Harness, successor_store: Store
) -> None:
    assert await h.bot.scheduler.run_due(T0 + minutes(30)) is not None  # health passes
    h.target.status = 503
    slot = T0 + minutes(45)
    release = await h.store.release_id("Shop", "2.0.0")
    # The leader ran the slot, then died before the alert went out.
    assert await h.store.claim_schedule_slot(release, slot)
    run_id, _ = await usecases.execute_run(h.bot.checklist, h.store, trigger="schedule", slot_at=slot)
    assert await h.store.set_schedule_run(release, run_id, slot=slot, attempt=1)
    before = len(h.slack.ok_calls("chat.postMessage"))

    taking_over = successor(h, successor_store, slot + timedelta(seconds=20))
    assert await taking_over.resume() == run_id, "the completed run is not run again"
    new_posts = [str(c.params["text"]) for c in h.slack.ok_calls("chat.postMessage")[before:]]
    assert len(new_posts) == 1 and "Health-Checks erfolgreich" in new_posts[0], new_posts
    assert await taking_over.resume() is None
    assert len(await successor_store.runs(release)) == 2
    assert (await successor_store.schedule_state(release)).slot_done_at is not None


async def test_a_leader_taken_for_dead_leaves_the_notifications_to_its_successor(h: Harness) -> None:
    """Paused past its lease (not dead), the old leader finishes its run after another
    took the slot over: it posts no alert, and does not mark the slot done."""
    assert await h.bot.scheduler.run_due(T0 + minutes(30)) is not None  # health passes
    h.target.status, h.target.delay = 503, 1.0
    slot = T0 + minutes(45)
    release = await h.store.release_id("Shop", "2.0.0")
    paused = asyncio.create_task(h.bot.scheduler.run_due(slot))
    await _first_running_run(h.store)
    assert await h.store.retry_schedule_slot(release, slot, 1), "a successor takes the slot over"
    run_id = await paused
    assert run_id is not None and (await h.store.run(run_id)).status == "complete"  # type: ignore[union-attr]
    texts = [str(c.params["text"]) for c in h.slack.ok_calls("chat.postMessage")]
    assert not [t for t in texts if "Regression" in t], "the alert is the successor's to post"
    state = await h.store.schedule_state(release)
    assert (state.slot_attempt, state.slot_done_at) == (2, None)


async def test_what_a_new_leader_leaves_alone(h: Harness, successor_store: Store) -> None:
    release = await h.store.release_id("Shop", "2.0.0")
    slot = T0 + minutes(30)
    assert await h.store.claim_schedule_slot(release, slot)
    later = successor(h, successor_store, slot + minutes(16))
    assert await later.resume() is None, "the next slot (09:45) superseded it"

    h.store.holder = "alive"
    running = await h.store.start_run(
        release, trigger="schedule", phase=None, checklist_digest="d", started_at=slot
    )
    assert await h.store.set_schedule_run(release, running, slot=slot, attempt=1)
    soon = successor(h, successor_store, slot + timedelta(seconds=20))
    assert await soon.resume() is None, "its run is in flight in a live process"

    await h.store.abort_runs([running], at=slot)
    for attempt in range(1, MAX_ATTEMPTS):
        assert await h.store.retry_schedule_slot(release, slot, attempt)
    assert await soon.resume() is None, f"{MAX_ATTEMPTS} attempts ended unfinished: given up"
    assert len(await successor_store.runs(release)) == 1


async def test_a_leader_whose_lease_may_have_lapsed_claims_and_posts_nothing(h: Harness) -> None:
    """The scheduler asks whether the lease still stands (``LeaderElection.still_leading``)
    before claiming a slot and before each message: a leader woken after a pause must not
    act on a lease another replica holds by now."""
    release = await h.store.release_id("Shop", "2.0.0")
    leading = True
    h.bot.scheduler.leading = lambda: leading
    h.target.delay = 1.0
    slot = T0 + minutes(30)
    running = asyncio.create_task(h.bot.scheduler.run_due(slot))
    run_id = await _first_running_run(h.store)
    await _message_stored(h.store, run_id)
    leading = False  # the lease lapsed while the probe ran
    await asyncio.sleep(0.2)  # an edit let through just before lands
    edits = len(h.slack.ok_calls("chat.update"))
    assert await running == run_id
    assert len(run_posts(h, run_id)) == 1, "only the message posted while leading"
    assert len(h.slack.ok_calls("chat.update")) == edits, "no edit after the lease lapsed"
    assert not [c for c in h.slack.ok_calls("chat.postMessage") if c.params.get("thread_ts")]
    assert (await h.store.schedule_state(release)).slot_done_at is None, "the slot is the successor's"

    assert await h.bot.scheduler.run_due(slot + minutes(15)) is None
    assert (await h.store.schedule_state(release)).last_slot_at == slot, "no slot claimed"


async def test_a_cut_short_run_not_run_again_says_it_stopped_once(h: Harness, successor_store: Store) -> None:
    """Its slot superseded by the next one, the run a dead leader left is not run again;
    its message still says how it ended, once, whichever leader gets there first."""
    slot = T0 + minutes(30)
    h.target.delay = 5.0
    leader_run = asyncio.create_task(h.bot.scheduler.run_due(slot))
    cut_short = await _first_running_run(h.store)
    await _message_stored(h.store, cut_short)
    leader_run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader_run
    h.target.delay = 0.0

    for _ in range(2):  # two leaders in turn
        assert await successor(h, successor_store, slot + minutes(16)).resume() is None

    run = await successor_store.run(cut_short)
    assert run is not None and run.status == "aborted" and run.message_ts is not None
    final = h.slack.messages(CHANNEL)[run.message_ts]
    note = "Stopped: the replica running it went away."
    assert final.text == f"Go-live run #{cut_short} · Shop v2.0.0: {note}"
    assert final.thread == [note]
