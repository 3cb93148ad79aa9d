"""Every figure golive promises, in one table, each beside its baseline from the same run.

    .venv/bin/python bench/table.py [--results 2000000] [--skip-postgres] [--charts-only]
                                    [--command-line-only]

Rows: a run of 100 probes vs its slowest probe; acknowledgement latency p50/p99 under
50 concurrent commands during a run vs an idle bot, and while a run's charts are drawn vs
the same burst idle; status and chart-history queries with
N stored results vs a thousand, on SQLite and PostgreSQL; chart rendering per phase vs a
one-run chart; resident memory of `golive serve` during a run vs idle, with the test
checklist and with the bundled one; start-up time and peak memory of `golive --help`,
`validate`, `status` and `report` vs a bare `python -c pass` (and the libraries the
last two need, imported alone); a run of 1,000 http items (bench/scale.py): CPU per probe
vs bare httpx (and bare aiohttp vs bare httpx), wall time vs its slowest probe,
first result reported vs first probe done, a text run's time after its last probe vs
a 10-item run's and its peak RSS vs `golive validate`, status and report with 30 stored
runs vs 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import ack_latency, run_wall_time, scale, startup, storage_queries  # noqa: E402
from golive.checks.loader import load  # noqa: E402

Row = tuple[str, str, str, str]


def ratio(figure: float, baseline: float) -> str:
    return f"{figure / baseline:.2f}x" if baseline else "-"


async def chart_rows() -> list[Row]:
    chart = await storage_queries.chart_figures(load(storage_queries.CHECKLIST, env={}))
    return [
        (
            "chart rendering, one phase (1 PNG, all panels, 20 runs)",
            f"{chart['chart_ms']:.0f} ms (CPU {chart['chart_cpu_ms']:.0f} ms)",
            f"1 run {chart['chart_one_run_ms']:.0f} ms (CPU {chart['chart_one_run_cpu_ms']:.0f} ms)",
            ratio(chart["chart_ms"], chart["chart_one_run_ms"]),
        ),
        (
            "the same, a chart worker's first chart (figure made, every text rendered)",
            f"{chart['chart_first_ms']:.0f} ms",
            f"later charts {chart['chart_ms']:.0f} ms",
            ratio(chart["chart_first_ms"], chart["chart_ms"]),
        ),
    ]


async def rows(results: int, postgres: bool) -> list[Row]:
    table: list[Row] = []
    wall = await run_wall_time.measure()
    table.append(
        (
            "run of 100 probes (200 ms each): wall time",
            f"{wall['wall_s']:.2f} s",
            f"slowest probe {wall['slowest_s']:.2f} s",
            ratio(wall["wall_s"], wall["slowest_s"]),
        )
    )
    ack = await ack_latency.measure(50)
    table.append(
        (
            "ack p50, 50 concurrent commands during a run",
            f"{ack['p50_ms']:.0f} ms",
            f"idle p50 {ack['idle_p50_ms']:.0f} ms",
            ratio(ack["p50_ms"], ack["idle_p50_ms"]),
        )
    )
    table.append(
        (
            "ack p99, 50 concurrent commands during a run",
            f"{ack['p99_ms']:.0f} ms",
            f"idle p50 {ack['idle_p50_ms']:.0f} ms",
            ratio(ack["p99_ms"], ack["idle_p50_ms"]),
        )
    )
    drawing = await ack_latency.measure_drawing(50)
    table.append(
        (
            "ack p99, 50 concurrent commands while a run's 8 charts are drawn",
            f"{drawing['p99_ms']:.0f} ms",
            f"same burst idle p99 {drawing['idle_burst_p99_ms']:.0f} ms",
            ratio(drawing["p99_ms"], drawing["idle_burst_p99_ms"]),
        )
    )
    backends = [("SQLite", await storage_queries.sqlite_figures(results))]
    if postgres:
        figures = await storage_queries.postgres_figures(results)
        if figures is not None:
            backends.append(("PostgreSQL", figures))
    for name, figures in backends:
        table.append(
            (
                f"{name}: status query, {results:,} results",
                f"{figures['big_status_ms']:.0f} ms",
                f"1,000 results {figures['small_status_ms']:.0f} ms",
                ratio(figures["big_status_ms"], figures["small_status_ms"]),
            )
        )
        table.append(
            (
                f"{name}: chart history (20 runs, every phase), {results:,} results",
                f"{figures['big_history_ms']:.0f} ms",
                f"1,000 results {figures['small_history_ms']:.0f} ms",
                ratio(figures["big_history_ms"], figures["small_history_ms"]),
            )
        )
    table.extend(await chart_rows())
    table.append(
        (
            "resident memory of golive serve during a run",
            f"{ack['run_rss_mib']:.0f} MiB",
            f"idle {ack['idle_rss_mib']:.0f} MiB",
            ratio(ack["run_rss_mib"], ack["idle_rss_mib"]),
        )
    )
    bundled = await ack_latency.measure_bundled()
    table.append(
        (
            "resident memory of golive serve, bundled checklist: peak during its run",
            f"{bundled['run_rss_mib']:.0f} MiB",
            f"idle {bundled['idle_rss_mib']:.0f} MiB",
            ratio(bundled["run_rss_mib"], bundled["idle_rss_mib"]),
        )
    )
    return table + await command_line_rows()


async def command_line_rows() -> list[Row]:
    """Start-up of the commands, and runs of a thousand items."""
    table: list[Row] = []
    for figure in await asyncio.to_thread(startup.measure):
        table.append(
            (
                f"{figure.name}: start-up wall time (median)",
                f"{figure.wall_s * 1000:.0f} ms",
                f"python -c pass {figure.baseline_s * 1000:.0f} ms",
                ratio(figure.wall_s, figure.baseline_s),
            )
        )
        table.append(
            (
                f"{figure.name}: peak resident memory",
                f"{figure.peak_rss_mib:.0f} MiB",
                f"python -c pass {figure.baseline_rss_mib:.0f} MiB",
                ratio(figure.peak_rss_mib, figure.baseline_rss_mib),
            )
        )
    table += scale_rows(await scale.measure())
    return table


def scale_rows(figures: dict[str, float]) -> list[Row]:
    probes = f"{figures['probes']:,.0f}"
    fixed = figures["first_probe_start_s"] + figures["after_last_probe_in_run_s"]
    return [
        (
            f"run of {probes} http probes: CPU per probe",
            f"{figures['cpu_ms_per_probe']:.2f} ms",
            f"bare httpx GET {figures['cpu_ms_per_request']:.2f} ms",
            ratio(figures["cpu_ms_per_probe"], figures["cpu_ms_per_request"]),
        ),
        (
            "the same GETs through bare aiohttp (for comparison): CPU per request",
            f"{figures['aiohttp_cpu_ms_per_request']:.2f} ms",
            f"bare httpx GET {figures['cpu_ms_per_request']:.2f} ms",
            ratio(figures["aiohttp_cpu_ms_per_request"], figures["cpu_ms_per_request"]),
        ),
        (
            f"run of {probes} http probes (100 ms each, concurrency 1,000): wall time less fixed overhead",
            f"{figures['wall_s'] - fixed:.2f} s",
            f"slowest probe {figures['slowest_s']:.2f} s",
            ratio(figures["wall_s"] - fixed, figures["slowest_s"]),
        ),
        (
            f"run of {probes} http probes: fixed overhead (before the first probe + after the last)",
            f"{figures['first_probe_start_s']:.2f} s + {figures['after_last_probe_in_run_s']:.2f} s",
            f"wall time {figures['wall_s']:.2f} s",
            ratio(fixed, figures["wall_s"]),
        ),
        (
            f"run of {probes} http probes: first result reported, after the start",
            f"{figures['first_reported_s']:.2f} s",
            f"first probe done {figures['first_probe_end_s']:.2f} s",
            ratio(figures["first_reported_s"], figures["first_probe_end_s"]),
        ),
        (
            f"golive run, text, {probes} items: exit after the last probe",
            f"{figures['after_last_probe_s']:.1f} s",
            f"10 items {figures['small_after_last_probe_s']:.1f} s",
            ratio(figures["after_last_probe_s"], figures["small_after_last_probe_s"]),
        ),
        (
            f"golive run, text, {probes} items: peak RSS",
            f"{figures['rss_mib']:.0f} MiB",
            f"golive validate {figures['validate_rss_mib']:.0f} MiB",
            ratio(figures["rss_mib"], figures["validate_rss_mib"]),
        ),
        (
            f"golive status, {probes} items, 30 stored runs",
            f"{figures['status_30_runs_s']:.2f} s",
            f"1 run {figures['status_1_run_s']:.2f} s",
            ratio(figures["status_30_runs_s"], figures["status_1_run_s"]),
        ),
        (
            f"golive report, {probes} items, 30 stored runs",
            f"{figures['report_30_runs_s']:.2f} s",
            f"1 run {figures['report_1_run_s']:.2f} s",
            ratio(figures["report_30_runs_s"], figures["report_1_run_s"]),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=2_000_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--charts-only", action="store_true", help="only the chart rendering rows")
    parser.add_argument(
        "--command-line-only", action="store_true", help="only start-up and the thousand-item runs"
    )
    args = parser.parse_args()
    if args.charts_only:
        table = asyncio.run(chart_rows())
    elif args.command_line_only:
        table = asyncio.run(command_line_rows())
    else:
        table = asyncio.run(rows(args.results, not args.skip_postgres))
    widths = [
        max(len(r[i]) for r in [("figure", "value", "baseline (same run)", "ratio"), *table])
        for i in range(4)
    ]
    header = ("figure", "value", "baseline (same run)", "ratio")
    for row in [header, tuple("-" * w for w in widths), *table]:
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
