"""A run's report is its own, decided in one process and without timing luck: another
run storing a newer observation of the same item while it runs changes the release's
current state, not what the run reports."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from golive.bot.console import ConsoleSurface
from golive.bot.core import usecases
from golive.bot.core.publish import publish_run
from golive.checks.loader import load
from golive.checks.results import ItemResult
from golive.checks.status import Status
from golive.storage import Store

from .slack_support import Target, _Handler, checklist_file


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


async def test_a_run_reports_its_own_result_when_another_run_stored_a_newer_one(
    tmp_path: Path, target: Target
) -> None:
    checklist = load(checklist_file(tmp_path, target.server_address[1]))
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    try:
        release = await store.release_id(checklist.release.name, checklist.release.version)
        other: list[int] = []

        async def beside(result: ItemResult) -> None:
            # While this run goes on, a run beside it observes the item failing, later.
            if result.item_id != "health":
                return
            run = await store.start_run(
                release, trigger="schedule", phase=None, checklist_digest="x", started_at=result.checked_at
            )
            failing = ItemResult(
                item_id="health",
                status=Status.FAIL,
                raw_status=Status.FAIL,
                message="[STATUS] = 503, limit == 200",
                duration_ms=1.0,
                checked_at=result.checked_at + timedelta(milliseconds=1),
                observed={"STATUS": 503},
            )
            await store.record_result(run, failing, phase="p1")
            other.append(run)

        run_id, state = await usecases.execute_run(checklist, store, on_result=beside)

        assert other and other[0] != run_id
        health = state.results["health"]
        assert health.status == Status.PASS and health.observed["STATUS"] == 200
        assert state.run is not None and state.run.id == run_id == state.own_run
        assert state.run.finished_at is not None and state.run.status == "complete"
        assert state.run.verdict == state.verdict.decision  # stored as reported
        assert state.observed_in["health"] == run_id
        assert state.from_this_run() == ["health"] and state.from_earlier_runs() == {}
        assert "health" not in {b.subject for b in state.verdict.blockers}
        assert usecases.automated_blocking_pass(checklist, state.results, None)

        # The release's current state is the newest observation: the other run's FAIL.
        current = await usecases.current_state(checklist, store)
        assert current.results["health"].status == Status.FAIL
        assert current.observed_in["health"] == other[0]
        assert "health" in {b.subject for b in current.verdict.blockers}
    finally:
        await store.close()


async def test_a_run_whose_own_go_is_outdated_by_a_newer_observation_announces_no_go(
    tmp_path: Path, target: Target
) -> None:
    """The run reports its own GO, but the GO announcement (like alerts and the verdict
    of ``status``) follows the newest observation: a FAIL observed after this run's
    probe, by a run beside it, means no GO is announced."""
    path = checklist_file(tmp_path, target.server_address[1])
    document = yaml.safe_load(path.read_text())
    document["signoffs"] = []
    document["phases"][0].pop("owner")
    items = document["phases"][0]["sections"][0]["items"]
    document["phases"][0]["sections"][0]["items"] = [i for i in items if i["id"] == "health"]
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    checklist = load(path)
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    printed = io.StringIO()
    try:
        release = await store.release_id(checklist.release.name, checklist.release.version)

        async def beside(result: ItemResult) -> None:
            run = await store.start_run(
                release, trigger="schedule", phase=None, checklist_digest="x", started_at=result.checked_at
            )
            await store.record_result(run, _failing(result), phase="p1")

        _, state = await publish_run(
            checklist, store, ConsoleSurface(tmp_path / "charts", printed), "#release", on_result=beside
        )

        assert state.verdict.go  # its own result passes
        assert await store.count_notifications(release, "go:") == 0, printed.getvalue()
        assert not (await usecases.current_state(checklist, store)).verdict.go
    finally:
        await store.close()


def _failing(seen: ItemResult) -> ItemResult:
    return ItemResult(
        item_id=seen.item_id,
        status=Status.FAIL,
        raw_status=Status.FAIL,
        message="[STATUS] = 503, limit == 200",
        duration_ms=1.0,
        checked_at=seen.checked_at + timedelta(milliseconds=1),
        observed={"STATUS": 503},
    )
