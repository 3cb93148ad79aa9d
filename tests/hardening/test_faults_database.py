"""The database misbehaving: not there at start, gone in the middle of a run, gone while
someone clicks a button. Nothing recorded is lost silently: results wait in memory and
are stored when the database returns, or the run is left incomplete and says so; a
click that could not be recorded is answered with "nothing was recorded"."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml

from golive.bot.core import usecases
from golive.bot.state import State
from golive.checks.loader import loads
from golive.checks.results import ItemResult
from golive.storage import StorageError, Store
from tests.bot.slack_support import DEVOPS, Harness, harness
from tests.services import free_port
from tests.services.postgres import PostgresServer, stoppable_server

from .targets import Target, target

pytestmark = pytest.mark.services


def _golive(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GOLIVE_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "golive", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("form", "shown"),
    [
        ("postgresql://golive:db-pass-7f3k@127.0.0.1:{port}/x", "postgresql://golive:***@127.0.0.1"),
        (
            "postgresql://golive@127.0.0.1:{port}/x?password=db-pass-7f3k",
            "postgresql://golive@127.0.0.1:{port}/x?password=REDACTED",
        ),
    ],
)
def test_database_unreachable_at_start_is_a_clear_error(form: str, shown: str, tmp_path: Path) -> None:
    checklist = tmp_path / "checklist.yaml"
    checklist.write_text(small_checklist("http://127.0.0.1:9/ok"))
    port = free_port()
    url = form.format(port=port)
    started = {
        command: _golive(command, "--checklist", str(checklist), "--db", url, cwd=tmp_path)
        for command in ("run", "status", "serve")
    }
    for command, process in started.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 2, (command, out, err)
        assert f"cannot open the database {shown.format(port=port)}" in err, command
        assert "Connection refused" in err or "connection failed" in err, command
        assert "Traceback" not in err + out, command
        assert "db-pass-7f3k" not in err + out, command


def small_checklist(*urls: str, names: tuple[str, ...] = ("fast", "slow")) -> str:
    items = [
        {"id": name, "title": name, "probe": {"type": "http", "url": url}, "conditions": ["[STATUS] == 200"]}
        for name, url in zip(names, urls, strict=False)
    ]
    return yaml.safe_dump(
        {
            "release": {"name": "Shop", "version": "2.0.0"},
            "phases": [
                {"id": "p1", "title": "P1", "sections": [{"id": "s1", "title": "S1", "items": items}]}
            ],
        }
    )


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A server of its own: these tests stop and start it."""
    with stoppable_server() as server:
        yield server


def stop(server: PostgresServer) -> None:
    server.run("pg_ctl", "stop", "-D", server.data_dir, "-m", "fast", "-w", "-t", "30")


def restart(server: PostgresServer) -> None:
    server.start(init=False)


@pytest.fixture
def slow_target() -> Iterator[Target]:
    with target() as served:
        yield served


async def _run_with_outage(
    server: PostgresServer, store: Store, url: str, *, store_retry: float, come_back: bool
) -> tuple[asyncio.Task[tuple[int, State]], list[str]]:
    """Start a run; stop the database after the first result is stored and, if
    ``come_back``, start it again once every probe is done."""
    checklist = loads(small_checklist(f"{url}/ok", f"{url}/slow-2"), env={})
    decided: list[str] = []
    first = asyncio.Event()
    everything = asyncio.Event()
    started: list[int] = []

    async def on_start(run_id: int) -> None:
        started.append(run_id)

    async def on_result(result: ItemResult) -> None:
        decided.append(result.item_id)
        first.set()
        if len(decided) == 2:
            everything.set()

    run = asyncio.create_task(
        usecases.execute_run(
            checklist, store, on_start=on_start, on_result=on_result, store_retry=store_retry
        )
    )
    await first.wait()
    # Reported as it arrives, stored right behind: stop once it is stored.
    while "fast" not in await store.run_results(started[0]):
        await asyncio.sleep(0.02)
    await asyncio.to_thread(stop, server)
    await everything.wait()
    if come_back:
        await asyncio.to_thread(restart, server)
    return run, decided


async def test_results_are_kept_and_stored_when_the_database_returns(
    postgres: PostgresServer, slow_target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    store = await Store.open(postgres.url("golive"))
    try:
        run, decided = await _run_with_outage(
            postgres, store, slow_target.url, store_retry=60, come_back=True
        )
        run_id, state = await run
        assert decided == ["fast", "slow"]
        stored = await store.run_results(run_id)
        assert set(stored) == {"fast", "slow"} and stored["slow"].status.value == "PASS"
        info = await store.run(run_id)
        assert info is not None and info.status == "complete" and info.verdict == state.verdict.decision
        assert "kept until the database answers" in caplog.text
    finally:
        await store.close()


async def test_a_database_that_stays_away_leaves_the_run_incomplete_and_says_so(
    postgres: PostgresServer, slow_target: Target
) -> None:
    store = await Store.open(postgres.url("golive"))
    try:
        run, _ = await _run_with_outage(postgres, store, slow_target.url, store_retry=1.0, come_back=False)
        with pytest.raises(StorageError) as failed:
            await run
        message = str(failed.value)
        assert "not stored (1 result(s) pending)" in message and "stays incomplete" in message
    finally:
        await store.close()
    await asyncio.to_thread(restart, postgres)
    async with await Store.open(postgres.url("golive")) as reopened:
        aborted = await reopened.abort_orphaned_runs(at=usecases.utcnow())
        assert len(aborted) == 1
        assert set(await reopened.run_results(aborted[0])) == {"fast"}, "what was stored stays"
        info = await reopened.run(aborted[0])
        assert info is not None and info.status == "aborted"


@pytest.fixture
async def pg_harness(postgres: PostgresServer, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path, db_url=postgres.url("golive")) as built:
        yield built


async def test_a_click_while_the_database_is_down_is_answered_and_can_be_repeated(
    postgres: PostgresServer, pg_harness: Harness
) -> None:
    h = pg_harness
    await h.command("run")
    await h.settle()
    await asyncio.to_thread(stop, postgres)
    response = await h.action("golive_signoff", "devops", DEVOPS)
    assert response.status_code == 200
    await h.settle()
    told = h.slack.answers()[-1].params
    assert told["user"] == DEVOPS and "Nothing was recorded" in told["text"]
    await asyncio.to_thread(restart, postgres)
    await h.action("golive_signoff", "devops", DEVOPS)
    await h.settle()
    records = await h.store.signoffs(await h.store.release_id("Shop", "2.0.0"))
    assert [(r.role, r.user) for r in records] == [("devops", DEVOPS)]
