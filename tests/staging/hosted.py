"""The staging's Python-served parts, each in a process of its own, as servers are.

The application endpoints and the fakes (Kubernetes API, Grafana, GitHub) are Python
servers. Run inside the test process they would share its interpreter (and GIL) with the
run under test, and every probe's measured response time would include their work; so
they run in child processes, like PostgreSQL, Redis or Prometheus do:

- ``python -m tests.staging.hosted services SPEC``: the application, the fake Kubernetes
  API with the staging cluster, fake Grafana and fake GitHub; prints one JSON line with
  their URLs (and the kubeconfig) and serves until its stdin closes;
- ``python -m tests.staging.hosted metrics PORT``: the API's ``/metrics`` scrape target.
  Stopping it is ending the process, the way a crashed pod goes away.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30.0


# -- the parent's side ---------------------------------------------------------------------


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.staging.hosted", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _end(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


@dataclass(frozen=True)
class ServicesSpec:
    """What the services process needs to know: written as JSON for it to read."""

    folder: str
    registry: str
    redis_host: str
    redis_port: int
    redis_password: str
    postgres_conninfo: str


class HostedServices:
    def __init__(self, spec: ServicesSpec) -> None:
        path = Path(spec.folder) / "services.json"
        path.write_text(json.dumps(asdict(spec)))
        self._process = _spawn("services", str(path))
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            _end(self._process)
            raise RuntimeError("the staging services process ended before it said where it serves")
        self.urls: dict[str, str] = json.loads(line)

    def close(self) -> None:
        _end(self._process)


class MetricsProcess:
    """The scrape target on a fixed port: ``stop()`` ends the process, ``start()`` runs a
    new one on the same port and returns once it answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._process: subprocess.Popen[str] | None = None
        self.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._process = _spawn("metrics", str(self.port))
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{self.address}/healthz", timeout=1).status_code == 200:
                    return
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the scrape target did not start on {self.address}")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            _end(process)


# -- the child's side ----------------------------------------------------------------------


def _serve_services(spec_path: str, out: IO[str]) -> None:
    import psycopg
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from tests.checks.grafana.fake_grafana import fake_grafana
    from tests.checks.pipeline.fake_forges import serving

    from .endpoints import AppServer
    from .kube import start_cluster
    from .world import github_state, grafana_state

    spec = ServicesSpec(**json.loads(Path(spec_path).read_text()))

    def redis_ping() -> None:
        with redis.Redis(
            host=spec.redis_host,
            port=spec.redis_port,
            password=spec.redis_password,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 0),  # one attempt: the endpoint answers at once
        ) as client:
            client.ping()

    def postgres_query() -> None:
        with psycopg.connect(spec.postgres_conninfo, connect_timeout=2) as connection:
            connection.execute("SELECT 1")

    checks: dict[str, Callable[[], None]] = {"redis": redis_ping, "postgres": postgres_query}
    with contextlib.ExitStack() as stack:
        app = AppServer(checks)
        stack.callback(app.close)
        grafana = stack.enter_context(fake_grafana(grafana_state()))
        github = stack.enter_context(serving(github_state(datetime.now(UTC))))
        cluster = start_cluster(Path(spec.folder), spec.registry)
        stack.callback(cluster.close)
        urls: dict[str, Any] = {
            "app": app.url,
            "grafana": grafana,
            "github": github.base_url,
            "kubeconfig": str(cluster.kubeconfig),
        }
        out.write(json.dumps(urls) + "\n")
        out.flush()
        sys.stdin.read()  # until the parent closes it


def _serve_metrics(port: int) -> None:
    from .endpoints import MetricsTarget

    target = MetricsTarget(port)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    target.stop()


def main(argv: list[str]) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    if argv[:1] == ["services"] and len(argv) == 2:
        # SIGTERM ends it like a closed stdin does.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        _serve_services(argv[1], sys.stdout)
    elif argv[:1] == ["metrics"] and len(argv) == 2:
        _serve_metrics(int(argv[1]))
    else:
        raise SystemExit("usage: python -m tests.staging.hosted services SPEC | metrics PORT")


if __name__ == "__main__":
    main(sys.argv[1:])
