"""Results are reported as they arrive, whatever storing them is doing: with the results
table locked by another session (inserts wait, reads do not) and most probes held by a
target that answers only when the test says so, the result of the probe that finished
first reaches ``on_result`` and the Slack run message while the others are pending. Once
the database lets go, every result is stored, in the order it was reported."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from golive.bot.core import usecases
from golive.checks.loader import loads
from golive.checks.results import ItemResult
from golive.storage import RunAborted, Store
from tests.hardening.targets import Target, target
from tests.services.postgres import PostgresDatabase

from .slack_support import harness

pytestmark = pytest.mark.services

HELD = ("held-1", "held-2", "held-3")


@pytest.fixture
def held_target() -> Iterator[Target]:
    with target() as served:
        try:
            yield served
        finally:
            served.released.set()


def _phases(url: str) -> list[dict[str, Any]]:
    items = [{"id": "early", "title": "Early", "probe": {"type": "http", "url": f"{url}/ok"}}]
    items += [{"id": name, "title": name, "probe": {"type": "http", "url": f"{url}/held"}} for name in HELD]
    return [{"id": "p1", "title": "P1", "sections": [{"id": "s1", "title": "S1", "items": items}]}]


def _async_url(database: PostgresDatabase) -> str:
    return database.url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
async def results_locked(postgres_database: PostgresDatabase) -> AsyncIterator[AsyncConnection]:
    """Another session holds the results table: SHARE lets reads pass and makes inserts
    wait until it commits (the test ends the transaction with ``release``)."""
    engine = create_async_engine(_async_url(postgres_database))
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def lock(connection: AsyncConnection) -> None:
    await connection.begin()
    await connection.execute(text("LOCK TABLE results IN SHARE MODE"))


async def release(connection: AsyncConnection) -> None:
    await connection.rollback()


async def test_a_result_is_reported_while_storing_waits_and_others_are_pending(
    postgres_database: PostgresDatabase, results_locked: AsyncConnection, held_target: Target
) -> None:
    document = {"release": {"name": "Shop", "version": "2.0.0"}, "phases": _phases(held_target.url)}
    checklist = loads(yaml.safe_dump(document), env={})
    store = await Store.open(postgres_database.url)
    reported: list[str] = []
    early = asyncio.Event()

    async def on_start(run_id: int) -> None:
        await lock(results_locked)

    async def on_result(result: ItemResult) -> None:
        reported.append(result.item_id)
        if result.item_id == "early":
            early.set()

    try:
        running = usecases.execute_run(checklist, store, on_start=on_start, on_result=on_result)
        run = asyncio.create_task(running)
        try:
            await asyncio.wait_for(early.wait(), timeout=20)
            assert reported == ["early"], "only the early probe has an answer yet"
            assert not held_target.released.is_set()
        finally:
            await release(results_locked)
            held_target.released.set()
        run_id, state = await asyncio.wait_for(run, timeout=30)

        assert sorted(reported) == sorted(["early", *HELD])
        assert list(await store.run_results(run_id)) == reported, "stored in the order reported"
        assert state.run is not None and state.run.status == "complete"
    finally:
        await store.close()


async def test_the_slack_run_message_shows_a_result_while_others_are_pending(
    tmp_path: Path,
    postgres_database: PostgresDatabase,
    results_locked: AsyncConnection,
    held_target: Target,
) -> None:
    extra = {"phases": _phases(held_target.url)}
    async with harness(tmp_path, extra=extra, db_url=postgres_database.url) as h:
        await lock(results_locked)
        try:
            await h.command("run")
            edits: list[str] = []
            for _ in range(200):
                edits = [c.params.get("text", "") for c in h.slack.ok_calls("chat.update")]
                if any("1 of 4 items decided" in e for e in edits):
                    break
                await asyncio.sleep(0.1)
            assert any("1 of 4 items decided" in e for e in edits), f"no edit while others pend: {edits}"
            assert not held_target.released.is_set()
        finally:
            # Before the harness waits for the run: it cannot end while either holds it.
            await release(results_locked)
            held_target.released.set()
        await h.settle()
        run = await h.store.newest_run()
        assert run is not None and run.status == "complete"
        assert next(iter(await h.store.run_results(run.id))) == "early"


async def test_a_run_another_replica_aborted_stops_with_run_aborted(
    tmp_path: Path, held_target: Target
) -> None:
    """Reported before stored, but not past the abort: once the writer finds the run
    aborted (another replica took this process for dead), the run raises RunAborted and
    reports nothing more."""
    document = {"release": {"name": "Shop", "version": "2.0.0"}, "phases": _phases(held_target.url)}
    checklist = loads(yaml.safe_dump(document), env={})
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    started: list[int] = []
    reported: list[str] = []

    async def on_start(run_id: int) -> None:
        started.append(run_id)

    async def on_result(result: ItemResult) -> None:
        reported.append(result.item_id)
        if result.item_id == "early":
            assert await store.abort_runs(started, at=usecases.utcnow()) == started
            held_target.released.set()

    try:
        with pytest.raises(RunAborted):
            await asyncio.wait_for(
                usecases.execute_run(checklist, store, on_start=on_start, on_result=on_result), timeout=30
            )
        settled = list(reported)
        await asyncio.sleep(0.3)
        assert reported == settled, "nothing reported after the run stopped"
        assert set(await store.run_results(started[0])) <= {"early"}
    finally:
        await store.close()
