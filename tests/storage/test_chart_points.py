"""What the charts read: stored per run and phase when a run finishes, on every backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from golive.checks.status import Status
from golive.storage import ChartPoint, Store, migrate
from golive.storage.urls import resolve

from .conftest import Backend
from .helpers import T0, new_run, result


async def _finished(store: Store, release: int, number: int, *results: tuple[str, object]) -> int:
    at = T0 + timedelta(minutes=15 * number)
    run = await new_run(store, release, at, *results)  # type: ignore[arg-type]
    await store.finish_run(run, finished_at=at, verdict="NO-GO", fingerprint="f")
    return run


async def test_a_finished_run_stores_each_phase_it_observed(store: Store) -> None:
    release = await store.release_id("r", "1")
    run = await _finished(
        store,
        release,
        0,
        (
            "p1",
            result("p1.api", observed={"RESPONSE_TIME": 840, "UP": True, "NAME": "x", "NAN": float("nan")}),
        ),
        ("p1", result("p1.db", Status.FAIL)),
        ("p2", result("p2.docs", Status.PENDING, observed={})),
    )
    [p1] = await store.chart_history(release, "p1")
    assert p1.run_id == run
    assert p1.at == T0
    # Only finite numbers are kept: booleans, text and NaN cannot be drawn.
    assert p1.points == {
        "p1.api": ChartPoint(Status.PASS, 12.5, {"RESPONSE_TIME": 840.0}, "https://svc.example/p1.api"),
        "p1.db": ChartPoint(Status.FAIL, 12.5, {"STATUS": 200.0}, "https://svc.example/p1.db"),
    }
    [p2] = await store.chart_history(release, "p2")
    assert p2.points["p2.docs"].status == Status.PENDING
    assert await store.chart_history(release, "p3") == []


async def test_history_is_the_newest_runs_that_observed_the_phase_oldest_first(store: Store) -> None:
    release = await store.release_id("r", "1")
    other = await store.release_id("r", "2")
    whole = [await _finished(store, release, n, ("p1", result("a")), ("p2", result("b"))) for n in range(5)]
    only_p2 = await _finished(store, release, 5, ("p2", result("b")))
    await _finished(store, other, 6, ("p1", result("a")))
    unfinished = await new_run(store, release, T0 + timedelta(hours=3), ("p1", result("a")))

    assert [r.run_id for r in await store.chart_history(release, "p1", limit=3)] == whole[2:]
    assert [r.run_id for r in await store.chart_history(release, "p2", limit=3)] == [*whole[3:], only_p2]
    assert unfinished not in [r.run_id for r in await store.chart_history(release, "p1")]


async def test_the_migration_fills_runs_finished_before_it(backend: Backend) -> None:
    urls = resolve(backend.url)
    async with await Store.open(backend.url) as store:
        release = await store.release_id("r", "1")
        for number in range(3):
            status = Status.FAIL if number == 1 else Status.PASS
            await _finished(
                store,
                release,
                number,
                ("p1", result("p1.api", status, observed={"P95_MS": 300 + number})),
                ("p2", result("p2.db")),
            )
        written = {phase: await store.chart_history(release, phase) for phase in ("p1", "p2")}
        assert len(written["p1"]) == 3

        await asyncio.to_thread(migrate.downgrade, urls, "0006")
        await asyncio.to_thread(migrate.upgrade, urls)

        assert {phase: await store.chart_history(release, phase) for phase in ("p1", "p2")} == written
