"""The staging application's HTTP side, on 127.0.0.1.

:class:`AppServer` is what the release serves: ``/healthz``; ``/api/integration``, which
exercises the application's dependencies for real (a Redis PING and a PostgreSQL query on
every request, 503 naming what failed); ``/openapi.json`` with ``info.version``; and the
documentation pages the checklist links to.

:class:`MetricsTarget` is the API's ``/metrics`` as Prometheus scrapes it
(``http_requests_total`` growing with every scrape).

Both run in child processes of their own (:mod:`.hosted`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry, Counter, generate_latest

RELEASE_VERSION = "1.1.0"
#: Documentation pages, path → title.
DOCS = {
    "/docs/deployment-guide": "Deployment-Guide VALEO-NeuroERP 1.1.0",
    "/docs/troubleshooting": "Troubleshooting-Guide VALEO-NeuroERP 1.1.0",
    "/docs/incident-response": "Incident-Response-Plan",
    "/docs/escalation-matrix": "Eskalations-Matrix",
    "/docs/rollback": "Rollback-Prozedur VALEO-NeuroERP",
    "/docs/architecture": "Architektur-Diagramme 1.1.0",
    "/docs/load-test-analysis": "Lasttest-Analyse 1.1.0",
}
OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "VALEO-NeuroERP API", "version": RELEASE_VERSION},
    "paths": {
        "/healthz": {"get": {"responses": {"200": {"description": "healthy"}}}},
        "/api/integration": {"get": {"responses": {"200": {"description": "dependencies reachable"}}}},
    },
}

#: name → a check that raises when the dependency is not usable.
DependencyChecks = Mapping[str, Callable[[], None]]


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


class _AppHandler(BaseHTTPRequestHandler):
    dependencies: ClassVar[DependencyChecks] = {}

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._json(200, {"status": "ok", "version": RELEASE_VERSION})
        elif path == "/api/integration":
            self._integration()
        elif path == "/openapi.json":
            self._json(200, OPENAPI)
        elif path in DOCS:
            page = f"<!doctype html><title>{DOCS[path]}</title><h1>{DOCS[path]}</h1>\n".encode()
            self._send(200, page, "text/html; charset=utf-8")
        else:
            self._json(404, {"error": "not found"})

    def _integration(self) -> None:
        results: dict[str, str] = {}
        for name, check in self.dependencies.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # any failure of a dependency is the answer
                results[name] = f"failed: {type(exc).__name__}"
        healthy = all(value == "ok" for value in results.values())
        self._json(200 if healthy else 503, {"status": "ok" if healthy else "degraded", **results})

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class AppServer:
    def __init__(self, dependencies: DependencyChecks) -> None:
        handler = type("AppHandler", (_AppHandler,), {"dependencies": dict(dependencies)})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = _serve(self._server)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _MetricsHandler(BaseHTTPRequestHandler):
    registry: ClassVar[CollectorRegistry]
    requests: ClassVar[Any]

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            # Traffic since the last scrape: 1,200 requests a second, a few of them errors.
            self.requests.labels(code="200").inc(1200)
            self.requests.labels(code="500").inc(2)
            self._send(200, generate_latest(self.registry), "text/plain; version=0.0.4; charset=utf-8")
        elif path == "/healthz":
            self._send(200, b"ok\n", "text/plain")
        else:
            self._send(404, b"not found\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class MetricsTarget:
    """``/metrics`` of the API on ``port`` (0: a free one)."""

    def __init__(self, port: int = 0) -> None:
        registry = CollectorRegistry()
        requests = Counter("http_requests", "HTTP requests served", ["code"], registry=registry)
        handler = type("MetricsHandler", (_MetricsHandler,), {"registry": registry, "requests": requests})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = _serve(self._server)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
