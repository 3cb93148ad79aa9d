"""A loopback HTTP server that answers fixed paths with canned Prometheus answers, for the
states a real Prometheus cannot be held in on demand: ``/-/ready`` answering 503 while
it starts or stops, and a server whose runtimeinfo lacks ``storageRetention`` (Prometheus
in agent mode, or an older or compatible server), so the probe must read the flags.

The answers copy what a real Prometheus 2.42 sends (body, status, headers); only which
one is sent is up to the test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Canned:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def api_success(data: Any) -> Canned:
    return Canned(
        200, json.dumps({"status": "success", "data": data}).encode(), {"Content-Type": "application/json"}
    )


def not_ready(*, stopping: bool) -> Canned:
    # web.go: http.StatusServiceUnavailable with the stopping flag as a header.
    return Canned(
        503,
        b"Service Unavailable",
        {
            "X-Prometheus-Stopping": "true" if stopping else "false",
            "Content-Type": "text/plain; charset=utf-8",
        },
    )


NOT_FOUND = Canned(404, b"404 page not found\n", {"Content-Type": "text/plain; charset=utf-8"})

#: /api/v1/status/flags of a real 2.42 started without retention flags (abridged).
DEFAULT_FLAGS = {
    "storage.tsdb.path": "data",
    "storage.tsdb.retention": "0s",
    "storage.tsdb.retention.size": "0B",
    "storage.tsdb.retention.time": "0s",
    "storage.agent.retention.max-time": "0s",
}


@contextmanager
def fake_prometheus(routes: Mapping[str, Canned]) -> Iterator[str]:
    """Serve ``routes`` (path → answer; anything else 404) and yield the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = routes.get(self.path.split("?", 1)[0], NOT_FOUND)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
