"""A throwaway Redis server: ``redis-server`` on a free loopback port, run from a
temporary directory as a child process (not daemonised, so the test owns its pid),
nothing persisted, everything removed at stop.

Generic, so several can run at once, e.g. a master and a real replica::

    master = RedisServer(args=["--repl-diskless-sync-delay", "0"]).start()
    replica = RedisServer(args=["--replicaof", master.host, str(master.port)]).start()
    replica.wait_until(lambda info: info.get("master_link_status") == "up")

(``--repl-diskless-sync-delay 0``: by default a master waits 5 s for more replicas
before it streams the first snapshot.)
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import redis

from . import free_port

_STARTUP_SECONDS = 10.0


class RedisStartError(RuntimeError):
    pass


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS-only server: its certificate and key, and the CA that issued them."""

    cert: Path
    key: Path
    ca: Path


def find_redis_server() -> str | None:
    return shutil.which("redis-server")


def unavailable_reason() -> str | None:
    """Why no server can start here, or None."""
    if find_redis_server() is None:
        return "no redis-server binary on PATH; install the Debian package 'redis-server'"
    return None


class RedisServer:
    def __init__(
        self,
        *,
        args: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int | None = None,
        password: str | None = None,
        tls: TlsFiles | None = None,
        base_dir: Path | None = None,
    ) -> None:
        binary = find_redis_server()
        if binary is None:
            raise RedisStartError(unavailable_reason() or "no redis-server")
        self.binary = binary
        self.host = host
        self._fixed_port = port
        self.port = port or free_port(host)
        self.args = list(args)
        #: The password the server requires (``--requirepass``), for the admin client.
        self.password = password
        #: With TLS the port speaks TLS only (the plain port is off).
        self.tls = tls
        self.base_dir = base_dir
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        if self._root is None:
            raise RuntimeError("call start() first")
        return self._root

    @property
    def log_file(self) -> Path:
        return self.root / "redis.log"

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start and return once the server answers PING."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="golive-redis-", dir=self.base_dir))
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            self._process = subprocess.Popen(
                self._command(), cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if self._wait_ready():
                return self
            self._terminate()
            if attempt + 1 < attempts:
                # Most likely another process took the free port meanwhile.
                self.port = free_port(self.host)
        raise RedisStartError(
            f"redis-server did not start on {self.host}:{self.port}\n--- {self.log_file} ---\n"
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server (if running) and delete its directory."""
        self._terminate()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def kill(self) -> None:
        """Stop the process at once (SIGKILL), the way a crashed server goes; keeps the
        directory so the log stays readable until stop()."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def client(self) -> redis.Redis:
        """A plain synchronous admin client, for arranging a test, not for the probe."""
        tls: dict[str, Any] = {}
        if self.tls is not None:
            tls = {"ssl": True, "ssl_ca_certs": str(self.tls.ca)}
        return redis.Redis(
            host=self.host, port=self.port, password=self.password, socket_timeout=5, protocol=2, **tls
        )

    def info(self, section: str = "replication") -> dict[str, Any]:
        with self.client() as client:
            found: dict[str, Any] = client.info(section)
            return found

    def wait_until(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        section: str = "replication",
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """Poll ``INFO section`` until ``predicate`` holds; returns that INFO."""
        deadline = time.monotonic() + timeout
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                info = self.info(section)
                if predicate(info):
                    return info
            time.sleep(0.05)
        raise TimeoutError(f"redis {self.host}:{self.port}: condition not met in {timeout}s; last {info}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _command(self) -> list[str]:
        if self.tls is None:
            ports = ["--port", str(self.port)]
        else:
            ports = [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.cert),
                "--tls-key-file", str(self.tls.key),
                "--tls-ca-cert-file", str(self.tls.ca),
                "--tls-auth-clients", "no",
            ]
        command = [
            self.binary,
            *ports,
            "--bind", self.host,
            "--dir", str(self.root),
            "--logfile", str(self.log_file),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
        ]
        if self.password is not None:
            command += ["--requirepass", self.password]
        return command + self.args

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline:
            if not self.running:
                return False
            try:
                with self.client() as client:
                    if client.ping():
                        return True
            except redis.ConnectionError:
                pass
            time.sleep(0.02)
        return False

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
