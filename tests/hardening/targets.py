"""A probe target on 127.0.0.1 that misbehaves on request, by the first segment of the
path (so an API client's own paths below it, ``/hang/api/v2/status``, behave the same):

- ``/ok``: 200 with a small JSON body;
- ``/slow-<seconds>``: answers after that long;
- ``/hang``: reads the request and never answers;
- ``/held``: answers once the test sets ``released``;
- ``/reset``: closes the connection with a TCP reset instead of answering;
- ``/trickle``: promises 1000 bytes and sends one per second;
- ``/huge``: a body larger than the probes' cap, with Content-Length;
- ``/huge-chunked``: the same, chunked, so only counting can tell;
- ``/echo``: the request's headers as JSON, the way a careless server reflects them;
- ``/basic-auth``: 401 with a Basic challenge, then the echo once credentials come;
- ``/redirect-to/<host>/<path>``: 302 to that host on this server's port;
- anything else: ``status``, ``content_type`` and ``body`` as the test set them.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CAP = 8 * 1024 * 1024  # ProbeContext.max_body_bytes


class Target(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # A run connects every probe at once; the default backlog of 5 drops SYNs, and each
    # dropped one costs the client a second before it tries again.
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stopping = threading.Event()
        self.status = 200
        self.content_type = "application/json"
        self.body = b"{}"
        self.requests: list[str] = []
        self.released = threading.Event()
        #: Connections accepted: a client that keeps them alive opens fewer than it asks.
        self.connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1  # one accepting thread: no lock needed
        super().process_request(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Target
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        path = self.path.split("?")[0]
        segment = path.split("/")[1]
        if segment == "ok":
            self._send(200, b'{"status": "UP"}')
        elif segment.startswith("slow-"):
            self.server.stopping.wait(float(segment.removeprefix("slow-")))
            self._send(200, b'{"status": "UP"}')
        elif segment == "hang":
            self.server.stopping.wait(3600)
        elif segment == "held":
            self.server.released.wait(60)
            self._send(200, b'{"status": "UP"}')
        elif segment == "reset":
            # SO_LINGER with a zero timeout: close() sends RST, not FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif segment == "trickle":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                if self.server.stopping.wait(1.0):
                    return
                self.wfile.write(b"x")
                self.wfile.flush()
        elif segment == "huge":
            self._send(200, b"x" * (CAP + 1024), "text/plain")
        elif segment == "huge-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"[" + b"1," * 32768
            for _ in range(CAP // len(chunk) + 2):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif segment == "echo":  # a careless server: it reflects the request's headers
            self._send(200, json.dumps({"headers": dict(self.headers.items())}).encode())
        elif segment == "basic-auth" and "Authorization" not in self.headers:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="registry"')
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif segment == "basic-auth":
            self._send(200, json.dumps({"headers": dict(self.headers.items())}).encode())
        elif segment == "redirect-to":
            host, _, rest = path.removeprefix("/redirect-to/").partition("/")
            self.send_response(302)
            self.send_header("Location", f"http://{host}:{self.server.server_address[1]}/{rest}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(self.server.status, self.server.body, self.server.content_type)

    do_POST = do_GET

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def target() -> Iterator[Target]:
    server = Target()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


def json_body(value: Any) -> bytes:
    return json.dumps(value).encode()
