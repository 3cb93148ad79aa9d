"""A run takes about as long as its slowest probe, not the sum of all.

Runs N http probes, each against a local endpoint that answers after DELAY seconds, and
prints the run's wall time divided by the slowest probe's own duration (the baseline,
measured in the same run). Target: under 1.5.

    .venv/bin/python bench/run_wall_time.py [--probes 100] [--delay 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

from golive.checks.loader import loads
from golive.checks.runner import run_checklist
from golive.checks.status import Status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    delay = 0.2


class _Slow(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        time.sleep(self.server.delay)
        body = b'{"status": "UP"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def checklist_text(port: int, probes: int) -> str:
    items = [
        {
            "id": f"probe-{n}",
            "title": f"Endpoint {n}",
            "probe": {"type": "http", "url": f"http://127.0.0.1:{port}/health/{n}"},
            "conditions": ["[STATUS] == 200", "[BODY].status == UP"],
        }
        for n in range(probes)
    ]
    return yaml.safe_dump(
        {
            "release": {"name": "Bench", "version": "1.0.0"},
            "defaults": {"concurrency": max(probes, 1), "timeout": "30s"},
            "phases": [
                {"id": "p1", "title": "P1", "sections": [{"id": "s1", "title": "S1", "items": items}]}
            ],
        }
    )


async def measure(probes: int = 100, delay: float = 0.2) -> dict[str, float]:
    """Wall time of one run of ``probes`` probes, and its slowest probe (the baseline)."""
    server = _Server(("127.0.0.1", 0), _Slow)
    server.delay = delay
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        checklist = loads(checklist_text(server.server_address[1], probes))
        started = time.perf_counter()
        outcome = await run_checklist(checklist)
        wall = time.perf_counter() - started
    finally:
        server.shutdown()
    if {r.status for r in outcome.results.values()} != {Status.PASS}:
        raise SystemExit("not every probe passed: the figures would mean nothing")
    return {
        "wall_s": wall,
        "slowest_s": max(r.duration_ms for r in outcome.results.values()) / 1000,
        "sum_s": sum(r.duration_ms for r in outcome.results.values()) / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.probes, args.delay))
    print(f"probes                 {args.probes} (each endpoint answers after {args.delay * 1000:.0f} ms)")
    print(f"wall time              {figures['wall_s']:.3f} s")
    print(f"slowest probe          {figures['slowest_s']:.3f} s   (baseline)")
    print(f"sum of probe durations {figures['sum_s']:.3f} s")
    print(f"wall / slowest         {figures['wall_s'] / figures['slowest_s']:.2f}   (target < 1.5)")


if __name__ == "__main__":
    main()
