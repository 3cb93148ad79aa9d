"""Status and chart queries stay fast with a year of 15-minute runs stored.

Loads N results (default two million: ~28,600 runs of 70 items, about a year of
15-minute runs) into a store, and times the queries `/golive status` and the charts
make, beside the same queries on a store holding a thousand results, measured in the
same run. Rows are written with the store's own codecs, in bulk.

    .venv/bin/python bench/storage_queries.py [--results 2000000] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from golive.bot.core import usecases  # noqa: E402
from golive.bot.render import charts  # noqa: E402
from golive.checks.conditions import ConditionOutcome  # noqa: E402
from golive.checks.loader import load  # noqa: E402
from golive.checks.model import Checklist  # noqa: E402
from golive.checks.probe import Evidence  # noqa: E402
from golive.checks.status import Status  # noqa: E402
from golive.storage import ChartPoint, Store  # noqa: E402
from golive.storage.codec import (  # noqa: E402
    encode_chart_points,
    encode_conditions,
    encode_evidence,
    encode_observed,
)
from golive.storage.models import ChartPointRow, ResultRow, RunRow  # noqa: E402

CHECKLIST = ROOT / "checklists" / "valeo-neuroerp-1.1.0.yaml"
CHUNK = 20_000


async def fill(store: Store, checklist: Checklist, results: int) -> int:
    """Write ``results`` results, whole runs of every item, oldest first; return the release id."""
    release_id = await store.release_id(checklist.release.name, checklist.release.version)
    items = checklist.items()
    runs = max(1, results // len(items))
    start = datetime.now(UTC) - timedelta(minutes=15 * runs)
    condition = encode_conditions(
        (ConditionOutcome("[STATUS] == 200", True, "[STATUS] = 200, limit == 200"),)
    )
    run_rows: list[dict[str, Any]] = []
    result_rows: list[dict[str, Any]] = []
    point_rows: list[dict[str, Any]] = []
    first_run_id = 1 + (await _max_run_id(store))

    async def flush() -> None:
        async with store.engine.begin() as connection:
            if run_rows:
                await connection.execute(insert(RunRow), run_rows)
            if result_rows:
                await connection.execute(insert(ResultRow), result_rows)
            if point_rows:
                await connection.execute(insert(ChartPointRow), point_rows)
        run_rows.clear()
        result_rows.clear()
        point_rows.clear()

    for number in range(runs):
        at = start + timedelta(minutes=15 * number)
        run_id = first_run_id + number
        run_rows.append(
            {
                "id": run_id,
                "release_id": release_id,
                "started_at": at,
                "finished_at": at + timedelta(seconds=9),
                "status": "complete",
                "trigger": "schedule",
                "phase": None,
                "checklist_digest": checklist.digest,
                "verdict": "NO-GO",
                "fingerprint": "f" * 16,
            }
        )
        # What finish_run stores for the charts: one row per phase of the run.
        points: dict[str, dict[str, ChartPoint]] = {}
        for index, item in enumerate(items):
            status = "FAIL" if (number + index) % 17 == 0 else "PASS"
            points.setdefault(item.phase, {})[item.id] = ChartPoint(
                Status(status),
                5.0 + (index * 7 + number) % 400,
                {"STATUS": 200.0, "P95_MS": 300.0 + number % 250},
                f"https://staging.example/{item.id}",
            )
            result_rows.append(
                {
                    "run_id": run_id,
                    "release_id": release_id,
                    "item_id": item.id,
                    "phase": item.phase,
                    "status": status,
                    "raw_status": status,
                    "message": f"{item.id} at run {number}",
                    "raw_message": f"{item.id} at run {number}",
                    "duration_ms": 5.0 + (index * 7 + number) % 400,
                    "checked_at": at,
                    "observed": encode_observed({"STATUS": 200, "P95_MS": 300.0 + number % 250}),
                    "evidence": encode_evidence(Evidence(f"https://staging.example/{item.id}", at)),
                    "conditions": condition,
                }
            )
        point_rows.extend(
            {
                "run_id": run_id,
                "release_id": release_id,
                "phase": phase,
                "run_at": at,
                "points": encode_chart_points(p),
            }
            for phase, p in points.items()
        )
        if len(result_rows) >= CHUNK:
            await flush()
    await flush()
    return release_id


async def _max_run_id(store: Store) -> int:
    from sqlalchemy import func, select

    async with store.engine.connect() as connection:
        return int((await connection.execute(select(func.coalesce(func.max(RunRow.id), 0)))).scalar_one())


async def timed(work: Callable[[], Awaitable[Any]], repeat: int = 5) -> float:
    """Median wall time in milliseconds."""
    await work()  # warm caches and the pool
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def query_figures(url: str, results: int, checklist: Checklist) -> dict[str, float]:
    """Status and chart-history query times on ``results`` stored results."""
    store = await Store.open(url)
    try:
        await fill(store, checklist, results)
        state = await usecases.current_state(checklist, store)
        status_ms = await timed(lambda: usecases.current_state(checklist, store))
        history_ms = await timed(lambda: histories(store, checklist, state.release_id))
    finally:
        await store.close()
    return {"status_ms": status_ms, "history_ms": history_ms}


async def histories(store: Store, checklist: Checklist, release_id: int) -> list[Any]:
    """What one run of every phase reads for its charts: each phase's last 20 runs."""
    return [await store.chart_history(release_id, phase.id, limit=20) for phase in checklist.phases]


async def chart_figures(checklist: Checklist) -> dict[str, float]:
    """Rendering the chart of the largest phase (both panels): 20 runs of history vs 1."""
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(f"sqlite:///{folder}/charts.db")
        try:
            release_id = await fill(store, checklist, len(checklist.items()) * 20)
            phase = max(checklist.phases, key=lambda p: sum(len(s.items) for s in p.sections))
            history = await store.chart_history(release_id, phase.id, limit=20)
        finally:
            await store.close()
    # The first chart of this process is a chart worker's first: its figure is made and
    # every text rendered. After that the worker's figure and texts are reused, as they
    # are run after run; the two charts alternate so that a busy machine slows both alike.
    # CPU time beside the wall time: on a shared machine the wall time includes waiting
    # for a core.
    first, _ = _render(checklist, phase, history)
    full: list[tuple[float, float]] = []
    single: list[tuple[float, float]] = []
    for _ in range(7):
        full.append(_render(checklist, phase, history))
        single.append(_render(checklist, phase, history[-1:]))
    return {
        "chart_ms": statistics.median(wall for wall, _ in full),
        "chart_cpu_ms": statistics.median(cpu for _, cpu in full),
        "chart_one_run_ms": statistics.median(wall for wall, _ in single),
        "chart_one_run_cpu_ms": statistics.median(cpu for _, cpu in single),
        "chart_first_ms": first,
    }


def _render(checklist: Checklist, phase: Any, history: Any) -> tuple[float, float]:
    """Wall and CPU milliseconds of drawing one chart."""
    started, cpu = time.perf_counter(), time.process_time()
    charts.phase_chart(checklist.release.language, phase, history)
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


async def sqlite_figures(results: int) -> dict[str, float]:
    checklist = load(CHECKLIST, env={})
    with tempfile.TemporaryDirectory() as folder:
        big = await query_figures(f"sqlite:///{folder}/big.db", results, checklist)
        small = await query_figures(f"sqlite:///{folder}/small.db", 1000, checklist)
    return {**{f"big_{k}": v for k, v in big.items()}, **{f"small_{k}": v for k, v in small.items()}}


async def postgres_figures(results: int) -> dict[str, float] | None:
    from tests.services.postgres import PostgresServer, unavailable_reason

    if unavailable_reason() is not None:
        return None
    checklist = load(CHECKLIST, env={})
    server = PostgresServer().start()
    try:
        server.create_database("big")
        server.create_database("small")
        big = await query_figures(server.url("big"), results, checklist)
        small = await query_figures(server.url("small"), 1000, checklist)
    finally:
        server.stop()
    return {**{f"big_{k}": v for k, v in big.items()}, **{f"small_{k}": v for k, v in small.items()}}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=2_000_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    figures = await sqlite_figures(args.results)
    print(
        f"SQLite, {args.results} results: status {figures['big_status_ms']:.1f} ms, "
        f"chart history {figures['big_history_ms']:.1f} ms "
        f"(1000 results: {figures['small_status_ms']:.1f} ms, {figures['small_history_ms']:.1f} ms)"
    )
    if args.postgres:
        pg = await postgres_figures(args.results)
        if pg:
            print(
                f"PostgreSQL, {args.results} results: status {pg['big_status_ms']:.1f} ms, "
                f"chart history {pg['big_history_ms']:.1f} ms "
                f"(1000 results: {pg['small_status_ms']:.1f} ms, {pg['small_history_ms']:.1f} ms)"
            )


if __name__ == "__main__":
    asyncio.run(main())
