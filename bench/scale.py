"""Runs scale with the checklist: 1,000 http items (10 phases of 100) against a local
target that answers each request after DELAY seconds (default 0.1), at concurrency 1,000.

Each figure beside its baseline, measured in the same run:

- CPU per probe of a run (this process: probing, deciding, storing in SQLite, the
  run's progress callbacks) vs CPU per request of bare httpx (a client per 32 requests),
  and of bare aiohttp for comparison;
- the run's wall time less its fixed overhead (before the first probe starts, after the
  last one ends) vs its slowest probe, and that overhead;
- when the first result was reported (``on_result``) vs when the first probe finished;
- a text run (``golive run`` in a subprocess, charts written to a folder): its peak RSS
  vs that of ``golive validate`` on the same checklist, and the time from its last
  probe's end to the process's exit vs the same for a run of 10 items;
- ``golive status`` and ``golive report`` with 30 stored runs vs 1.

    .venv/bin/python bench/scale.py [--items-per-phase 100] [--delay 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import target  # noqa: E402
from bench.launch import launch  # noqa: E402
from golive.bot.core import usecases  # noqa: E402
from golive.checks.loader import loads  # noqa: E402
from golive.checks.results import ItemResult  # noqa: E402
from golive.checks.status import Status  # noqa: E402
from golive.storage import Store  # noqa: E402
from golive.storage.models import ResultRow  # noqa: E402

#: The CLI of this checkout (the code beside this file), run by this interpreter.
GOLIVE = [sys.executable, "-m", "golive"]
PHASES = 10


def checklist_text(port: int, phases: int, per_phase: int) -> str:
    return yaml.safe_dump(
        {
            "release": {"name": "Scale", "version": "1.0.0"},
            "defaults": {"concurrency": max(1000, phases * per_phase), "timeout": "30s"},
            "phases": [
                {
                    "id": f"p{p}",
                    "title": f"Phase {p}",
                    "sections": [
                        {
                            "id": f"s{p}",
                            "title": f"Section {p}",
                            "items": [
                                {
                                    "id": f"p{p}-item-{n}",
                                    "title": f"Endpoint {p}.{n}",
                                    "probe": {"type": "http", "url": f"http://127.0.0.1:{port}/health/{p}/{n}"},
                                    "conditions": ["[STATUS] == 200", "[BODY].status == UP"],
                                }
                                for n in range(per_phase)
                            ],
                        }
                    ],
                }
                for p in range(phases)
            ],
        }
    )


def _probe_end(result: ItemResult) -> float:
    return result.checked_at.timestamp() + result.duration_ms / 1000


async def measure_run(port: int, per_phase: int, folder: Path) -> dict[str, float]:
    """One run in this process, stored in SQLite: CPU, wall time, when results were reported."""
    checklist = loads(checklist_text(port, PHASES, per_phase), source=str(folder / "scale.yaml"))
    store = await Store.open(f"sqlite:///{folder}/in-process.db")
    reported: list[float] = []

    async def on_result(result: ItemResult) -> None:
        reported.append(time.time())

    try:
        started, cpu = time.time(), time.process_time()
        _, state = await usecases.execute_run(checklist, store, on_result=on_result)
        cpu, wall = time.process_time() - cpu, time.time() - started
    finally:
        await store.close()
    results = [r for r in state.results.values()]
    if {r.status for r in results} != {Status.PASS}:
        raise SystemExit("not every probe passed: the figures would mean nothing")
    probes = len(results)
    return {
        "probes": probes,
        "cpu_ms_per_probe": cpu * 1000 / probes,
        "wall_s": wall,
        "slowest_s": max(r.duration_ms for r in results) / 1000,
        "first_reported_s": min(reported) - started,
        "first_probe_end_s": min(_probe_end(r) for r in results) - started,
        "last_reported_s": max(reported) - started,
        "last_probe_end_s": max(_probe_end(r) for r in results) - started,
        # The run's fixed overhead: before the first probe starts (storing the run,
        # importing the probes' client) and after the last one ends (storing, deciding).
        "first_probe_start_s": min(r.checked_at.timestamp() for r in results) - started,
        "after_last_probe_in_run_s": wall - (max(_probe_end(r) for r in results) - started),
    }


async def bare_httpx(port: int, requests: int, per_client: int = 32) -> dict[str, float]:
    """The floor: ``requests`` GETs at once through bare httpx clients, each serving
    ``per_client`` of them (one client for all would measure httpcore's pool walking a
    thousand connections on every request: quadratic, 22 ms per request measured)."""
    import httpx

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=per_client)
    clients = [httpx.AsyncClient(limits=limits, timeout=30) for _ in range(0, requests, per_client)]
    cpu = time.process_time()
    answers = await asyncio.gather(
        *(clients[n // per_client].get(f"http://127.0.0.1:{port}/health/{n}") for n in range(requests))
    )
    cpu = time.process_time() - cpu
    for client in clients:
        await client.aclose()
    assert all(a.status_code == 200 for a in answers)
    return {"cpu_ms_per_request": cpu * 1000 / requests}


async def bare_aiohttp(port: int, requests: int) -> dict[str, float]:
    """Another floor, for comparison: the same GETs through one aiohttp session (the HTTP
    library the Slack app already brings), whose pool does not walk its connections."""
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def get(n: int) -> int:
            async with session.get(f"http://127.0.0.1:{port}/health/{n}") as answer:
                await answer.read()
                return answer.status

        cpu = time.process_time()
        statuses = await asyncio.gather(*(get(n) for n in range(requests)))
        cpu = time.process_time() - cpu
    assert all(status == 200 for status in statuses)
    return {"aiohttp_cpu_ms_per_request": cpu * 1000 / requests}


def child(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Run ``golive ARGS``: (seconds, exit time, peak RSS in MiB)."""
    done = launch([*GOLIVE, *args], env, cwd=ROOT)
    if done.returncode not in (0, 1):  # 1: a blocking item failed, still a finished run
        raise SystemExit(f"golive {' '.join(args)} exited {done.returncode}: {done.stderr!r}")
    return done.seconds, done.ended, done.peak_rss_mib


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GOLIVE_"))}
    return {**env, "PYTHONPATH": str(ROOT)}


async def _stored_results(url: str) -> list[ItemResult]:
    store = await Store.open(url)
    try:
        run = await store.newest_run()
        assert run is not None
        return list((await store.run_results(run.id)).values())
    finally:
        await store.close()


async def text_run(port: int, phases: int, per_phase: int, folder: Path) -> tuple[dict[str, float], str]:
    """``golive run`` on a terminal-less stdout: peak RSS and time after its last probe."""
    path = folder / f"text-{phases}x{per_phase}.yaml"
    path.write_text(checklist_text(port, phases, per_phase))
    url = f"sqlite:///{folder}/text-{phases}x{per_phase}.db"
    charts = str(folder / "charts")
    _, ended, rss = child(["run", "--checklist", str(path), "--db", url, "--charts", charts], _env())
    results = await _stored_results(url)
    _, _, validate_rss = child(["validate", "--checklist", str(path)], _env())
    figures = {
        "rss_mib": rss,
        "validate_rss_mib": validate_rss,
        "after_last_probe_s": ended - max(_probe_end(r) for r in results),
    }
    return figures, url


async def add_runs(url: str, copies: int) -> None:
    """``copies`` more complete runs of the newest run's results, as if run later (its
    result rows copied in bulk; each run finished by the store, which adds its chart rows)."""
    store = await Store.open(url)
    try:
        newest = await store.newest_run()
        assert newest is not None
        async with store.engine.connect() as connection:
            query = select(ResultRow.__table__).where(ResultRow.run_id == newest.id)
            rows = (await connection.execute(query)).mappings()
            template = [{k: v for k, v in row.items() if k != "id"} for row in rows]
        for number in range(1, copies + 1):
            shift = timedelta(minutes=15 * number)
            run_id = await store.start_run(
                newest.release_id,
                trigger="bench",
                phase=None,
                checklist_digest=newest.checklist_digest,
                started_at=newest.started_at + shift,
            )
            moved = [{**row, "run_id": run_id, "checked_at": row["checked_at"] + shift} for row in template]
            async with store.engine.begin() as connection:
                await connection.execute(insert(ResultRow), moved)
            await store.finish_run(
                run_id, finished_at=newest.started_at + shift, verdict="GO", fingerprint="bench"
            )
    finally:
        await store.close()


def read_times(url: str, repeat: int = 3) -> dict[str, float]:
    env = _env()
    return {
        command: statistics.median(child([command, "--db", url], env)[0] for _ in range(repeat))
        for command in ("status", "report")
    }


async def measure(per_phase: int = 100, delay: float = 0.1) -> dict[str, float]:
    with target.running(delay) as port, tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        figures: dict[str, float] = {}
        figures.update(await measure_run(port, per_phase, folder))
        figures.update(await bare_httpx(port, PHASES * per_phase))
        figures.update(await bare_aiohttp(port, PHASES * per_phase))
        big, url = await text_run(port, PHASES, per_phase, folder)
        small, _ = await text_run(port, 1, 10, folder)
        figures.update(big)
        figures["small_after_last_probe_s"] = small["after_last_probe_s"]
        one = read_times(url)
        await add_runs(url, 29)
        thirty = read_times(url)
        figures.update({f"{k}_1_run_s": v for k, v in one.items()})
        figures.update({f"{k}_30_runs_s": v for k, v in thirty.items()})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items-per-phase", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.1)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.items_per_phase, args.delay))
    for name, value in figures.items():
        print(f"{name:<28} {value:.3f}")


if __name__ == "__main__":
    main()
