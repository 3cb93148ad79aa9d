"""Releases, runs and results, on every backend."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from golive.checks.conditions import ConditionOutcome
from golive.checks.probe import Evidence
from golive.checks.results import ItemResult
from golive.checks.status import Status
from golive.storage import RunInfo, Store

from .helpers import T0, new_run, result

CEST = timezone(timedelta(hours=2))


async def test_release_id_is_created_once_per_name_and_version(store: Store) -> None:
    first = await store.release_id("valeo-neuroerp", "1.1.0")
    assert await store.release_id("valeo-neuroerp", "1.1.0") == first
    assert await store.release_id("valeo-neuroerp", "1.2.0") != first
    assert await store.release_id("other", "1.1.0") != first


async def test_item_result_round_trips_exactly(store: Store) -> None:
    release = await store.release_id("r", "1")
    original = ItemResult(
        item_id="p3.metrics.p95",
        status=Status.WAIVED,
        raw_status=Status.FAIL,
        message="waived until … by alice: known (underlying: FAIL: P95_MS = 612 ms)",
        duration_ms=1234.567891,
        checked_at=datetime(2026, 3, 2, 9, 15, 30, 123456, tzinfo=UTC),
        observed={
            "P95_MS": 612.25,
            "COUNT": 3,
            "HUGE": 2**70,
            "OK": True,
            "NOTHING": None,
            "BODY": {"status": "grün", "items": [1, "two", None, False, {"deep": [0.5]}]},
        },
        # A probe may report its source's time in another zone; it is the same instant.
        evidence=Evidence("k6/summary.json", datetime(2026, 3, 2, 11, 0, 1, 5, tzinfo=CEST),
                          "https://ci.example/run/7"),
        conditions=(
            ConditionOutcome("[P95_MS] < 500", False, "P95_MS = 612.2 ms, limit < 500 ms"),
            ConditionOutcome("[COUNT] > 0", True, "COUNT = 3, limit > 0"),
        ),
        raw_message="P95_MS = 612.2 ms, limit < 500 ms",
    )
    run = await new_run(store, release, T0, ("P3", original))

    stored = (await store.run_results(run))["p3.metrics.p95"]
    assert stored == original
    assert type(stored.status) is Status and type(stored.raw_status) is Status
    assert stored.checked_at.tzinfo is UTC
    assert stored.evidence is not None and stored.evidence.observed_at.tzinfo is UTC
    assert isinstance(stored.conditions, tuple)
    assert (await store.latest_results(release))["p3.metrics.p95"] == original


async def test_result_without_evidence_or_conditions_round_trips(store: Store) -> None:
    release = await store.release_id("r", "1")
    bare = ItemResult("skipped", Status.SKIPPED, Status.SKIPPED, "depends on a", 0.0, T0)
    run = await new_run(store, release, T0, ("P1", bare))
    assert (await store.run_results(run))["skipped"] == bare


async def test_values_json_cannot_carry_are_kept(store: Store) -> None:
    """NaN (Prometheus says so), infinities and datetimes must not cost the result."""
    release = await store.release_id("r", "1")
    observed = {
        "RATE": float("nan"),
        "MAX": float("inf"),
        "MIN": float("-inf"),
        "EXPIRES": datetime(2026, 9, 1, tzinfo=UTC),
        "PAIR": (1, 2),
    }
    run = await new_run(store, release, T0, ("P5", result("prom", observed=observed)))
    back = (await store.run_results(run))["prom"].observed
    assert math.isnan(back["RATE"])
    assert back["MAX"] == math.inf and back["MIN"] == -math.inf
    assert back["EXPIRES"] == datetime(2026, 9, 1, tzinfo=UTC)
    assert back["PAIR"] == [1, 2]


async def test_naive_datetimes_are_refused(store: Store) -> None:
    release = await store.release_id("r", "1")
    with pytest.raises(StatementError, match="naive datetime"):
        await store.start_run(
            release, trigger="cli", phase=None, checklist_digest="d",
            started_at=datetime(2026, 3, 2, 9, 0),
        )
    assert await store.runs(release) == []


async def test_times_come_back_in_utc(store: Store) -> None:
    release = await store.release_id("r", "1")
    local = datetime(2026, 3, 2, 11, 0, tzinfo=CEST)
    run = await store.start_run(
        release, trigger="cli", phase=None, checklist_digest="d", started_at=local
    )
    info = await store.run(run)
    assert info is not None
    assert info.started_at == local
    assert info.started_at.tzinfo is UTC and info.started_at.hour == 9


async def test_latest_results_take_the_newest_of_each_item_across_runs_and_phases(
    store: Store,
) -> None:
    release = await store.release_id("r", "1")
    other = await store.release_id("r", "2")
    full = await new_run(
        store, release, T0,
        ("P1", result("a", at=T0)), ("P2", result("b", at=T0)), ("P3", result("c", at=T0)),
    )
    await store.finish_run(full, finished_at=T0, verdict="GO", fingerprint="f1")
    later = T0 + timedelta(minutes=15)
    phase_run = await new_run(
        store, release, later, ("P2", result("b", Status.FAIL, at=later)), phase="P2"
    )
    latest = T0 + timedelta(minutes=30)
    # A run that crashed after its first result: what it saw still counts.
    await new_run(store, release, latest, ("P1", result("a", Status.WARN, at=latest)))
    # Another release's newer results must not leak in.
    await new_run(store, other, latest + timedelta(hours=1),
                  ("P3", result("c", Status.ERROR, at=latest + timedelta(hours=1))))

    found = await store.latest_results(release)

    assert {item: r.status for item, r in found.items()} == {
        "a": Status.WARN, "b": Status.FAIL, "c": Status.PASS,
    }
    assert found["b"] == (await store.run_results(phase_run))["b"]
    assert (await store.latest_results(other))["c"].status == Status.ERROR
    assert await store.latest_results(await store.release_id("r", "3")) == {}


async def test_latest_results_break_ties_by_what_was_recorded_last(store: Store) -> None:
    release = await store.release_id("r", "1")
    await new_run(store, release, T0, ("P1", result("a", Status.FAIL)))
    await new_run(store, release, T0, ("P1", result("a", Status.PASS)))
    assert (await store.latest_results(release))["a"].status == Status.PASS


async def test_run_results_hold_only_that_run(store: Store) -> None:
    release = await store.release_id("r", "1")
    first = await new_run(store, release, T0, ("P1", result("a")), ("P1", result("b")))
    second = await new_run(store, release, T0 + timedelta(minutes=1), ("P1", result("a")))
    assert set(await store.run_results(first)) == {"a", "b"}
    assert set(await store.run_results(second)) == {"a"}
    assert await store.run_results(second + 1000) == {}


async def test_a_batch_is_stored_in_its_order_and_an_empty_one_stores_nothing(store: Store) -> None:
    release = await store.release_id("r", "1")
    run = await new_run(store, release, T0)
    await store.record_results(run, [])
    assert await store.run_results(run) == {}
    first, again = result("a", Status.FAIL, at=T0), result("a", Status.PASS, at=T0)
    await store.record_results(run, [(first, "P1"), (result("b"), "P2"), (again, "P1")])
    stored = await store.run_results(run)
    assert set(stored) == {"a", "b"}
    assert stored["a"].status == Status.PASS  # recorded last of the two at the same time
    assert stored["b"] == result("b")


async def test_item_history_is_newest_first_and_limited(store: Store) -> None:
    release = await store.release_id("r", "1")
    runs = []
    for minute, status in enumerate([Status.PASS, Status.FAIL, Status.PASS]):
        at = T0 + timedelta(minutes=15 * minute)
        runs.append(await new_run(store, release, at, ("P1", result("a", status, at=at)),
                                  ("P1", result("b", at=at))))

    history = await store.item_history(release, "a")

    assert [run for run, _ in history] == runs[::-1]
    assert [r.status for _, r in history] == [Status.PASS, Status.FAIL, Status.PASS]
    assert all(r.item_id == "a" for _, r in history)
    assert [run for run, _ in await store.item_history(release, "a", limit=2)] == runs[:0:-1]
    assert await store.item_history(release, "unknown") == []


async def test_runs_are_listed_newest_first(store: Store) -> None:
    release = await store.release_id("r", "1")
    assert await store.latest_run(release) is None
    ids = [await new_run(store, release, T0 + timedelta(minutes=m)) for m in (0, 15, 30)]
    await new_run(store, await store.release_id("r", "2"), T0 + timedelta(hours=1))

    assert [r.id for r in await store.runs(release)] == ids[::-1]
    assert [r.id for r in await store.runs(release, limit=2)] == ids[:0:-1]
    latest = await store.latest_run(release)
    assert latest is not None and latest.id == ids[-1]


async def test_finish_run_records_the_outcome(store: Store) -> None:
    release = await store.release_id("r", "1")
    run = await store.start_run(
        release, trigger="schedule", phase="P2", checklist_digest="abc", started_at=T0
    )
    running = await store.run(run)
    assert running == RunInfo(
        id=run, release_id=release, started_at=T0, finished_at=None, status="running",
        trigger="schedule", phase="P2", verdict=None, fingerprint=None, checklist_digest="abc",
    )
    done_at = T0 + timedelta(seconds=42)
    await store.finish_run(run, finished_at=done_at, verdict="NO-GO", fingerprint="f00d")
    finished = await store.run(run)
    assert finished is not None
    assert (finished.status, finished.finished_at, finished.verdict, finished.fingerprint) == (
        "complete", done_at, "NO-GO", "f00d"
    )
    assert await store.run(run + 1000) is None


async def test_unknown_runs_are_refused(store: Store) -> None:
    with pytest.raises(LookupError, match="no run with id 999"):
        await store.record_result(999, result("a"), phase="P1")
    with pytest.raises(LookupError, match="no run with id 999"):
        await store.finish_run(999, finished_at=T0, verdict="GO", fingerprint="f")


async def test_aborting_orphans_marks_only_running_ones(store: Store) -> None:
    release = await store.release_id("r", "1")
    done = await new_run(store, release, T0, ("P1", result("a")))
    await store.finish_run(done, finished_at=T0, verdict="GO", fingerprint="f")
    crashed = [await new_run(store, release, T0 + timedelta(minutes=m), ("P1", result("b")))
               for m in (1, 2)]
    at = T0 + timedelta(hours=1)

    assert await store.abort_orphaned_runs(at=at) == crashed
    assert await store.abort_orphaned_runs(at=at) == []

    for run in crashed:
        info = await store.run(run)
        assert info is not None and (info.status, info.finished_at) == ("aborted", at)
        assert set(await store.run_results(run)) == {"b"}, "an aborted run keeps its results"
    finished = await store.run(done)
    assert finished is not None and finished.status == "complete"


async def test_runs_need_a_known_release(store: Store) -> None:
    """Foreign keys hold on SQLite too, where they must be switched on per connection."""
    with pytest.raises(IntegrityError):
        await store.start_run(999, trigger="cli", phase=None, checklist_digest="d", started_at=T0)


async def test_latest_is_what_was_observed_last_not_what_finished_last(store: Store) -> None:
    """A slow run started first and finishing last does not hide what a later run saw
    since; each latest result names the run that observed it."""
    release = await store.release_id("r", "1")
    slow = await store.start_run(
        release, trigger="schedule", phase=None, checklist_digest="d", started_at=T0
    )
    fast = await new_run(store, release, T0 + timedelta(seconds=5),
                         ("P1", result("a", Status.PASS, at=T0 + timedelta(seconds=6))))
    await store.finish_run(fast, finished_at=T0 + timedelta(seconds=7), verdict="GO", fingerprint="f")
    # The slow run's probe of "a" began at T0+1 and is stored only now, after the fast run.
    await store.record_result(slow, result("a", Status.FAIL, at=T0 + timedelta(seconds=1)), phase="P1")
    await store.record_result(slow, result("b", Status.FAIL, at=T0 + timedelta(seconds=50)), phase="P1")
    await store.finish_run(slow, finished_at=T0 + timedelta(seconds=60), verdict="NO-GO", fingerprint="s")

    latest = await store.latest_observations(release)

    assert {item: (seen.run_id, seen.result.status) for item, seen in latest.items()} == {
        "a": (fast, Status.PASS),
        "b": (slow, Status.FAIL),
    }
    assert slow < fast, "ids increase in start order"


async def test_a_checklist_is_stored_once_per_content(store: Store) -> None:
    assert await store.checklist_content("d1") is None
    await store.store_checklist("d1", "release: {name: a}\n", at=T0)
    await store.store_checklist("d1", "release: {name: a}\n", at=T0 + timedelta(hours=1))
    await store.store_checklist("d2", "release: {name: b}\n", at=T0)
    assert await store.checklist_content("d1") == "release: {name: a}\n"
    assert await store.checklist_content("d2") == "release: {name: b}\n"
    async with store.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT digest FROM checklists ORDER BY digest"))).all()
    assert [row[0] for row in rows] == ["d1", "d2"]


async def test_newest_run_is_of_any_release(store: Store) -> None:
    assert await store.newest_run() is None
    first = await store.release_id("r", "1")
    second = await store.release_id("r", "2")
    await new_run(store, first, T0)
    newest = await new_run(store, second, T0 + timedelta(minutes=1))
    found = await store.newest_run()
    assert found is not None and found.id == newest and found.release_id == second
