"""Three real ``golive serve`` processes on one real PostgreSQL, posting to one local Slack
Web API. One leads and runs the schedule; the test kills it (SIGKILL) in the middle of a
scheduled run that is about to raise an alert, and shows that another takes over within
the lease, re-runs that slot, and that over the whole schedule no slot is lost or run
twice and no notification is lost or sent twice."""

from __future__ import annotations

import asyncio
import itertools
import signal
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from golive.storage import RunInfo, Store
from tests.services.postgres import PostgresDatabase

from .fake_slack import FakeSlack
from .serve_process import ServeProcess, scrape, serve_process, value
from .slack_support import CHANNEL, Target, _Handler, checklist_file

pytestmark = pytest.mark.services

INTERVAL = 6.0  # seconds between slots
LEASE = 2.0  # seconds a lease stands unrenewed
PROBE_DELAY = 1.5  # seconds the target takes to answer: a run is in flight that long
RELEASE = ("Shop", "2.0.0")


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target(("127.0.0.1", 0), _Handler)
    server.delay = PROBE_DELAY
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    try:
        yield fake
    finally:
        await fake.stop()


def scheduled_checklist(folder: Path, port: int) -> Path:
    path = checklist_file(folder, port, extra={"schedule": {"interval": f"{INTERVAL:g}s"}})
    document = yaml.safe_load(path.read_text())
    health = document["phases"][0]["sections"][0]["items"][0]
    health["timeout"] = "10s"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return path


async def until(what: str, check: Callable[[], Awaitable[object]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def scheduled_runs(store: Store) -> list[RunInfo]:
    release = await store.release_id(*RELEASE)
    return [r for r in await store.runs(release, limit=500) if r.trigger == "schedule"]


def pid_of(holder: str) -> int:
    """Holders are ``host:pid:random``."""
    return int(holder.split(":")[1])


async def test_three_replicas_one_leader_killed_mid_run_nothing_lost_or_repeated(
    tmp_path: Path, postgres_database: PostgresDatabase, target: Target, slack: FakeSlack
) -> None:
    checklist = scheduled_checklist(tmp_path, target.server_address[1])
    env = {"GOLIVE_LEASE_SECONDS": f"{LEASE:g}", "GOLIVE_SHUTDOWN_GRACE": "20"}
    store = await Store.open(postgres_database.url)
    async with AsyncExitStack() as stack, httpx.AsyncClient(timeout=5) as http:
        stack.push_async_callback(store.close)
        started = [
            serve_process(tmp_path, checklist, slack, env, db_url=postgres_database.url, name=f"replica-{n}")
            for n in range(3)
        ]
        replicas: list[ServeProcess] = list(
            await asyncio.gather(*(stack.enter_async_context(s) for s in started))
        )
        by_pid = {r.process.pid: r for r in replicas}

        async def leader() -> ServeProcess | None:
            lease = await store.lease("golive-leader")
            if lease is None or lease.expires_in <= timedelta(0):
                return None
            return by_pid.get(pid_of(lease.holder))

        async def complete_runs() -> int:
            return sum(r.status == "complete" for r in await scheduled_runs(store))

        await until("a leader", leader, 30)
        first = await leader()
        assert first is not None
        await until("two scheduled runs", lambda: _at_least(complete_runs, 2), 4 * INTERVAL)

        # The health item regresses; the leader's next run would raise the alert. It is
        # killed while that run waits on the probe.
        target.status = 503

        async def in_flight() -> RunInfo | None:
            running = [r for r in await scheduled_runs(store) if r.status == "running"]
            return running[0] if running else None

        await until("a scheduled run in flight", in_flight, 2 * INTERVAL)
        cut_short = await in_flight()
        assert cut_short is not None and cut_short.owner is not None
        assert pid_of(cut_short.owner) == first.process.pid, "only the leader runs the schedule"
        await asyncio.sleep(PROBE_DELAY / 3)
        first.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await first.process.wait()
        survivors = [r for r in replicas if r is not first]

        async def new_leader() -> bool:
            current = await leader()
            return current is not None and current is not first

        await until("a new leader", new_leader, 3 * LEASE)
        took = time.monotonic() - killed_at
        assert took <= LEASE + 1.0, f"taken over {took:.1f} s after the kill (lease {LEASE} s)"
        second = await leader()
        assert second in survivors
        lease = await store.lease("golive-leader")
        assert lease is not None and lease.term == 2

        async def slot_rerun() -> bool:
            runs = [r for r in await scheduled_runs(store) if r.slot_at == cut_short.slot_at]
            return any(r.status == "complete" for r in runs)

        await until("the cut-short slot run again", slot_rerun, 3 * INTERVAL)
        killed_run = await store.run(cut_short.id)
        assert killed_run is not None and killed_run.status == "aborted", "the dead leader's run is aborted"

        # Two more slots failing (no reminder due), then it recovers.
        done = await complete_runs()
        await until("two more scheduled runs", lambda: _at_least(complete_runs, done + 2), 4 * INTERVAL)
        target.status = 200
        done = await complete_runs()
        await until("two runs after the recovery", lambda: _at_least(complete_runs, done + 2), 4 * INTERVAL)

        samples = [await scrape(http, r.url) for r in survivors]
        assert sorted(value(s, "golive_leader") for s in samples) == [0.0, 1.0]

        # The followers first: the leader's leaving would make one of them leader.
        for replica in sorted(survivors, key=lambda r: r is second):
            assert await replica.terminate() == 0, "\n".join(replica.log_lines()[-20:])

        # -- no slot lost or run twice -------------------------------------------------------
        runs = sorted(await scheduled_runs(store), key=lambda r: r.id)
        assert all(r.status != "running" for r in runs), [(r.id, r.status) for r in runs]
        completed = [r for r in runs if r.status == "complete"]
        slots = sorted({r.slot_at for r in completed if r.slot_at is not None})
        assert len(slots) == len(completed), f"a slot run twice: {Counter(r.slot_at for r in completed)}"
        # From the second slot on: the first run after three replicas start together pays
        # their one-time start-up (imports, the chart worker) on two cores and may outlast
        # a 6 s interval, its next slot then skipped as "a run is in flight". What is
        # tested is the takeover: no slot around it lost or run twice.
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(slots[1:])}
        assert gaps == {INTERVAL}, f"a slot lost: gaps of {sorted(gaps)} s between {slots}"
        assert [r.slot_at for r in runs if r.status == "aborted"] == [cut_short.slot_at]
        assert cut_short.slot_at in slots, "the slot cut short was run again"
        assert len(slots) >= 6

        # -- every notification exactly once ---------------------------------------------------
        posts = [c for c in slack.ok_calls("chat.postMessage") if c.params["channel"] == CHANNEL]
        top_level = [str(c.params["text"]) for c in posts if not c.params.get("thread_ts")]
        regressions = [t for t in top_level if t.startswith(":rotating_light: Regression")]
        resolved = [t for t in top_level if t.startswith("Resolved")]
        assert len(regressions) == 1 and "Health-Checks erfolgreich" in regressions[0], top_level
        assert len(resolved) == 1 and "Health-Checks erfolgreich" in resolved[0], top_level
        for run in completed:
            mine = [
                t for t in top_level if f"#{run.id}" in t and "Regression" not in t and "Resolved" not in t
            ]
            assert len(mine) == 1, f"run #{run.id}: {len(mine)} run messages"
        owners = {pid_of(r.owner) for r in completed if r.owner}
        assert owners == {first.process.pid, second.process.pid}, "the schedule ran in the two leaders only"

        # -- every run message says how its run ended ------------------------------------------
        [rerun] = [r for r in completed if r.slot_at == cut_short.slot_at]
        assert_run_messages_final(slack, await scheduled_runs(store), {cut_short.id: rerun})


def assert_run_messages_final(slack: FakeSlack, runs: list[RunInfo], reruns: dict[int, RunInfo]) -> None:
    """A complete run's message shows its verdict; an aborted run's (``reruns``: aborted
    run id → the run that stands for it) says it stopped and links its re-run, and so
    does its thread. None is left "n of m decided"."""
    messages = slack.messages(CHANNEL)
    for run in runs:
        assert run.message_ts is not None and run.message_ts in messages, f"run #{run.id}: no message"
        final = messages[run.message_ts]
        title = f"Go-live run #{run.id} · Shop v2.0.0"
        if run.status == "complete":
            assert final.text.startswith(f"{title}: Run #{run.id} finished in "), final.text
            assert final.text.endswith(f"— {run.verdict}"), final.text
            continue
        assert run.status == "aborted"
        rerun = reruns[run.id]
        link = f"https://test.slack.com/archives/{CHANNEL}/p{str(rerun.message_ts).replace('.', '')}"
        note = f"Stopped: the replica running it went away; re-run as <{link}|#{rerun.id}>."
        assert final.text == f"{title}: {note}"
        assert final.thread == [note], final.thread


async def _at_least(count: Callable[[], Awaitable[int]], wanted: int) -> bool:
    return await count() >= wanted


async def test_a_leader_paused_past_its_lease_wakes_without_leading_or_finishing_its_run(
    tmp_path: Path, postgres_database: PostgresDatabase, target: Target, slack: FakeSlack
) -> None:
    """SIGSTOP the leader mid-run, past its lease: the other replica takes over, marks
    the run aborted, re-runs its slot and edits the stopped run's message. SIGCONT: the
    woken process never reports leading beside the new leader, and its late results do
    not complete the aborted run, nor post or edit anything."""
    checklist = scheduled_checklist(tmp_path, target.server_address[1])
    env = {"GOLIVE_LEASE_SECONDS": f"{LEASE:g}", "GOLIVE_SHUTDOWN_GRACE": "20"}
    store = await Store.open(postgres_database.url)
    async with AsyncExitStack() as stack, httpx.AsyncClient(timeout=5) as http:
        stack.push_async_callback(store.close)
        started = [
            serve_process(tmp_path, checklist, slack, env, db_url=postgres_database.url, name=f"paused-{n}")
            for n in range(2)
        ]
        replicas: list[ServeProcess] = list(
            await asyncio.gather(*(stack.enter_async_context(s) for s in started))
        )
        by_pid = {r.process.pid: r for r in replicas}

        async def leader() -> ServeProcess | None:
            lease = await store.lease("golive-leader")
            if lease is None or lease.expires_in <= timedelta(0):
                return None
            return by_pid.get(pid_of(lease.holder))

        async def posted_run() -> RunInfo | None:
            running = [r for r in await scheduled_runs(store) if r.status == "running" and r.message_ts]
            return running[0] if running else None

        await until("a leader", leader, 30)
        await until("a scheduled run with its message posted", posted_run, 3 * INTERVAL)
        first = await leader()
        paused = await posted_run()
        assert first is not None and paused is not None and paused.owner is not None
        assert pid_of(paused.owner) == first.process.pid
        first.process.send_signal(signal.SIGSTOP)
        other = next(r for r in replicas if r is not first)

        async def rerun_done() -> bool:
            runs = [r for r in await scheduled_runs(store) if r.slot_at == paused.slot_at]
            return any(r.status == "complete" for r in runs)

        try:
            await until("the paused leader's slot run again", rerun_done, 3 * INTERVAL)
            assert await leader() is other
        finally:
            first.process.send_signal(signal.SIGCONT)
        # Right after waking, before and while its election notices: never two leaders.
        both = []
        for _ in range(30):
            samples = await asyncio.gather(*(scrape(http, r.url) for r in replicas))
            both.append([value(s, "golive_leader") for s in samples])
            await asyncio.sleep(0.05)
        assert all(sum(pair) <= 1 for pair in both), both
        assert both[-1] == [float(r is other) for r in replicas], both

        # The woken process's probe answered long ago; give it a slot to do all it would.
        done = await _count_complete(store)
        next_run = lambda: _at_least(lambda: _count_complete(store), done + 1)  # noqa: E731
        await until("the next scheduled run", next_run, 3 * INTERVAL)
        woken = await scrape(http, first.url)
        # The woken one first: the other's leaving would make it leader again.
        for replica in (first, other):
            assert await replica.terminate() == 0, "\n".join(replica.log_lines()[-20:])
        runs = await scheduled_runs(store)

    stale = next(r for r in runs if r.id == paused.id)
    assert (stale.status, stale.verdict) == ("aborted", None), "a run another replica aborted stays aborted"
    [rerun] = [r for r in runs if r.slot_at == paused.slot_at and r.status == "complete"]
    assert rerun.owner is not None and pid_of(rerun.owner) == other.process.pid
    mine = [r for r in runs if r.owner == paused.owner and r.status == "complete"]
    assert value(woken, "golive_runs_completed_total", trigger="schedule") == len(mine)
    assert_run_messages_final(slack, runs, {stale.id: rerun})

    records = first.log_records()
    events = [r["event"] for r in records]
    assert "run completed, but what followed failed" not in events
    assert not [r for r in records if r["event"] == "run completed" and r.get("run_id") == stale.id]
    assert not [r for r in records if r["level"] in ("error", "critical")], [
        r for r in records if r["level"] in ("error", "critical")
    ]


async def _count_complete(store: Store) -> int:
    return sum(r.status == "complete" for r in await scheduled_runs(store))
