"""Slash commands are acknowledged in well under a second, also while a run is in flight.

Serves the bot over real HTTP against a local Slack Web API, starts a `/golive run` whose
probes take 2 s, and while it is in flight sends N concurrent signed `/golive status`
commands. Prints p50/p99 acknowledgement latency beside the baseline: the same command
sent alone to an idle bot, measured in the same run. Target: p99 under 300 ms.

    .venv/bin/python bench/ack_latency.py [--commands 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bot.slack_support import Harness, harness  # noqa: E402


async def timed(h: Harness, text: str) -> float:
    started = time.perf_counter()
    response = await h.command(text)
    assert response.status_code == 200, response.text
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def main(commands: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with harness(Path(folder)) as h:
            await timed(h, "help")  # warm up: first auth.test, imports
            await h.settle()
            baseline = [await timed(h, "help") for _ in range(20)]
            await h.settle()
            h.target.delay = 2.0
            await h.command("run")
            await asyncio.sleep(0.2)  # the run is now probing
            loaded = await asyncio.gather(*(timed(h, "status") for _ in range(commands)))
            in_flight = h.bot.run_lock.locked()
            await h.settle()
    p50, p99 = percentile(list(loaded), 0.5), percentile(list(loaded), 0.99)
    base = statistics.median(baseline)
    print(f"concurrent commands        {commands} (run in flight during the burst: {in_flight})")
    print(f"baseline ack, idle bot     p50 {base:7.1f} ms")
    print(f"ack during run             p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   (target p99 < 300 ms)")
    print(f"p99 / idle baseline        {p99 / base:7.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=50)
    asyncio.run(main(parser.parse_args().commands))
