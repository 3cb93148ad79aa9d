"""A real HTTP server on 127.0.0.1 that serves the fixture reports the way a CI artifact
store or an nginx in front of a report folder would: with Last-Modified, 404 for what is
not there, and 401 without the bearer token on /private/."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .support import DATA

TOKEN = "report-token-5d1c"
#: Served as the Last-Modified of every /reports/ document.
LAST_MODIFIED = "Mon, 02 Jun 2025 09:00:00 GMT"
#: And of every /old/ document: long before any max_age.
OLD_LAST_MODIFIED = "Mon, 03 Mar 2025 10:00:00 GMT"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        prefix, _, name = self.path.lstrip("/").partition("/")
        path = DATA / name
        if prefix == "private" and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(401, b'{"error":"unauthorized"}', {})
            return
        if prefix not in ("reports", "old", "private") or "/" in name or not path.is_file():
            self._send(404, b"404 page not found\n", {})
            return
        modified = OLD_LAST_MODIFIED if prefix == "old" else LAST_MODIFIED
        self._send(200, path.read_bytes(), {"Last-Modified": modified})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


@dataclass(frozen=True)
class ReportServer:
    url: str


@pytest.fixture(scope="session")
def report_server() -> Iterator[ReportServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield ReportServer(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
