"""SIGTERM to the real ``golive serve`` while a run is in flight (its probe target answers
slowly): the process exits 0, and the run is either complete (it finished within the
grace period) or marked aborted in the database — never left ``running``."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from golive.storage import RunInfo, Store

from .fake_slack import FakeSlack
from .serve_process import (
    API_KEY,
    API_KEY_ENV,
    ServeProcess,
    checklist_with_secret,
    command,
    key_target,
    serve_process,
)
from .slack_support import Target, _Handler
from .test_replicas import INTERVAL, scheduled_checklist


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()


async def runs(served: ServeProcess) -> list[RunInfo]:
    store = await Store.open(served.db_url)
    try:
        return await store.runs(await store.release_id("Shop", "2.0.0"))
    finally:
        await store.close()


async def start_run(http: httpx.AsyncClient, served: ServeProcess, slack: FakeSlack) -> None:
    """``/golive run``, returning once the run message is posted: the run has started."""
    assert (await command(http, served, "run")).status_code == 200
    await slack.wait_for("chat.postMessage", 1, timeout=30)


async def test_sigterm_lets_the_run_in_flight_finish(tmp_path: Path, slack: FakeSlack) -> None:
    with key_target() as target:
        target.delay = 3.0
        checklist = checklist_with_secret(tmp_path, target.server_address[1])
        env = {API_KEY_ENV: API_KEY, "GOLIVE_SHUTDOWN_GRACE": "30"}
        async with (
            serve_process(tmp_path, checklist, slack, env) as served,
            httpx.AsyncClient(timeout=10) as http,
        ):
            await start_run(http, served, slack)
            served.process.send_signal(signal.SIGTERM)
            # Draining: still answering, not ready, and new commands are turned away.
            deadline = time.monotonic() + 10
            while (ready := await http.get(f"{served.url}/readyz")).status_code == 200:
                assert time.monotonic() < deadline, "never stopped being ready"
                await asyncio.sleep(0.05)
            assert ready.status_code == 503 and ready.json()["not_ready"] == ["shutdown"]
            refused = await command(http, served, "run")
            assert refused.status_code == 200
            assert "restarting" in json.loads(refused.text)["text"]
            assert await asyncio.wait_for(served.process.wait(), 60) == 0

    [run] = await runs(served)
    assert (run.status, run.verdict) == ("complete", "NO-GO")
    assert slack.ok_calls("files.completeUploadExternal"), "the run was published to the end"
    events = [r["event"] for r in served.log_records()]
    assert "shutting down: waiting for work in flight" in events
    assert events.index("run completed") > events.index("shutting down")


async def test_sigterm_marks_the_run_aborted_when_the_grace_period_runs_out(
    tmp_path: Path, slack: FakeSlack
) -> None:
    with key_target() as target:
        target.delay = 60.0  # longer than the test: only the grace period ends the run
        checklist = checklist_with_secret(tmp_path, target.server_address[1], timeout="120s")
        env = {API_KEY_ENV: API_KEY, "GOLIVE_SHUTDOWN_GRACE": "1"}
        async with (
            serve_process(tmp_path, checklist, slack, env) as served,
            httpx.AsyncClient(timeout=10) as http,
        ):
            await start_run(http, served, slack)
            began = time.monotonic()
            assert await served.terminate(timeout=30) == 0
            assert time.monotonic() - began < 20

    [run] = await runs(served)
    assert run.status == "aborted" and run.finished_at is not None
    records = served.log_records()
    aborted = next(r for r in records if r["event"] == "run aborted")
    assert (aborted["run_id"], aborted["reason"]) == (run.id, "cancelled")
    grace = next(r for r in records if r["event"] == "shutting down: grace period over, aborting")
    assert grace["runs"] == [run.id]


async def test_sigterm_lets_the_scheduled_run_in_flight_finish_and_its_slot_end(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """APScheduler's shutdown cancels the jobs it runs; the scheduled run must still
    finish within the grace, send what follows it and mark its slot done, with no
    error-level line."""
    server = Target(("127.0.0.1", 0), _Handler)
    server.delay = 2.0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        checklist = scheduled_checklist(tmp_path, server.server_address[1])
        async with serve_process(tmp_path, checklist, slack, {"GOLIVE_SHUTDOWN_GRACE": "30"}) as served:
            store = await Store.open(served.db_url)
            try:
                release = await store.release_id("Shop", "2.0.0")
                # The second run: APScheduler's job starts it (a first one may be the
                # slot a new leader catches up on, in a task of its own).
                deadline = time.monotonic() + 4 * INTERVAL
                while len(runs := await store.runs(release)) < 2 or runs[0].status != "running":
                    assert time.monotonic() < deadline, "no second scheduled run started"
                    await asyncio.sleep(0.05)
                served.process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(served.process.wait(), 60) == 0
                run, *_ = await store.runs(release)
                state = await store.schedule_state(release)
            finally:
                await store.close()
    finally:
        server.shutdown()
        server.server_close()

    assert (run.trigger, run.status, run.verdict) == ("schedule", "complete", "NO-GO")
    assert state.last_run_id == run.id and state.slot_done_at is not None, state
    records = served.log_records()
    stamped = [(r["event"], r.get("run_id")) for r in records]
    waiting = stamped.index(("shutting down: waiting for work in flight", None))
    assert stamped.index(("run completed", run.id)) > waiting
    events = [event for event, _ in stamped]
    assert "run aborted" not in events
    assert "run completed, but what followed failed" not in events
    assert not [r for r in records if r["level"] in ("error", "critical")]
