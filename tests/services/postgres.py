"""A throwaway PostgreSQL server: ``initdb`` in a temporary directory, ``postgres`` on a
free loopback port with its unix socket in that directory, everything removed at stop.

PostgreSQL refuses to run as root, so as root every server command runs as the
``postgres`` OS user (``runuser``) in a directory that user owns. The class is generic
so more than one server can run, e.g. a primary and a streaming replica::

    primary = PostgresServer().start()
    replica = PostgresServer(config=["hot_standby = on"]).prepare()
    primary.run("pg_basebackup", "-D", replica.data_dir, "-R", "-X", "stream", "-c", "fast",
                "-h", primary.socket_dir, "-p", primary.port, "-U", primary.superuser)
    replica.start(init=False)        # the copied data dir, this server's port

(``-c fast``: without it pg_basebackup waits for a spread checkpoint, over a minute.)
Test settings trade durability for speed (``fsync = off`` …); ``config`` lines are
appended after them, so they win.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Any, Self
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from . import free_port, require_service

OS_USER_WHEN_ROOT = "postgres"
_TOOLS = ("initdb", "pg_ctl", "postgres")
_FAST = ("fsync = off", "synchronous_commit = off", "full_page_writes = off")


class PostgresStartError(RuntimeError):
    pass


def scratch_dir() -> Path | None:
    """Where data dirs go: memory-backed /dev/shm when it has room (CREATE DATABASE
    there takes ~50 ms instead of ~450 ms on disk, and each test creates one), else
    the system's temporary directory."""
    shm = Path("/dev/shm")
    with contextlib.suppress(OSError):
        if os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 1 << 30:
            return shm
    return None


def find_bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres live: ``pg_config --bindir`` (Debian's
    /usr/bin/pg_config points into the newest installed major), else the newest
    /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    majors = glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(p) for p in majors), key=_major, reverse=True)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in _TOOLS):
            return bindir
    return None


def _major(bindir: Path) -> int:
    match = re.search(r"/(\d+)/bin$", str(bindir))
    return int(match.group(1)) if match else 0


def unavailable_reason() -> str | None:
    """Why no server can start here, or None."""
    if find_bindir() is None:
        return (
            "no PostgreSQL server binaries (pg_config --bindir, /usr/lib/postgresql/*/bin); "
            "install the Debian package 'postgresql'"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER_WHEN_ROOT)
        except KeyError:
            return f"running as root and there is no {OS_USER_WHEN_ROOT!r} user to run it as"
    return None


class PostgresServer:
    def __init__(
        self,
        *,
        bindir: Path | None = None,
        port: int | None = None,
        config: Sequence[str] = (),
        host: str = "127.0.0.1",
        superuser: str = "postgres",
        base_dir: Path | None = None,
    ) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise PostgresStartError(unavailable_reason() or "no PostgreSQL binaries")
        self.bindir = found
        self.host = host
        self.superuser = superuser
        self._fixed_port = port
        self.port = port or free_port(host)
        self.config = list(config)
        self.os_user = OS_USER_WHEN_ROOT if os.geteuid() == 0 else None
        self.base_dir = base_dir or scratch_dir()
        self._root: Path | None = None

    # -- where things are ------------------------------------------------------------

    @property
    def root(self) -> Path:
        if self._root is None:
            raise RuntimeError("call prepare() or start() first")
        return self._root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres", *, scheme: str = "postgresql") -> str:
        """A SQLAlchemy-style URL over TCP (trust authentication: no password)."""
        return f"{scheme}://{self.superuser}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.superuser} dbname={database}"

    # -- life cycle ------------------------------------------------------------------

    def prepare(self) -> Self:
        """Create the (empty) temporary directory, owned by the user the server runs as."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="golive-pg-", dir=self.base_dir))
            if self.os_user is not None:
                account = pwd.getpwnam(self.os_user)
                os.chown(self._root, account.pw_uid, account.pw_gid)
        return self

    def start(self, *, init: bool = True) -> Self:
        """``initdb`` (unless ``init=False``: the data dir is already there, e.g. from
        pg_basebackup), configure, start, and return once it accepts connections."""
        self.prepare()
        if init:
            self.run(
                "initdb", "-D", self.data_dir, "-U", self.superuser, "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            )
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            self._configure()
            started = self.run(
                "pg_ctl", "start", "-D", self.data_dir, "-l", self.log_file, "-w", "-t", "60",
                check=False,
            )
            if started.returncode == 0:
                return self
            if attempt + 1 < attempts:
                # Most likely another process took the free port meanwhile.
                self.port = free_port(self.host)
        raise PostgresStartError(
            f"postgres did not start on {self.host}:{self.port}:\n{started.stdout}"
            f"{started.stderr}\n--- {self.log_file} ---\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server (if running) and delete its directory."""
        if self._root is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                stopped = self.run(
                    "pg_ctl", "stop", "-D", self.data_dir, "-m", "immediate", "-w", "-t", "30",
                    check=False,
                )
                if stopped.returncode != 0:
                    self._kill()
        finally:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- tools and SQL ---------------------------------------------------------------

    def run(
        self, tool: str, *args: str | int | Path, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the server's binaries (psql, pg_basebackup …) as the server's user."""
        command = [str(self.bindir / tool), *(str(a) for a in args)]
        if self.os_user is not None:
            command = ["runuser", "-u", self.os_user, "--", *command]
        done = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, check=False, timeout=120
        )
        if check and done.returncode != 0:
            raise PostgresStartError(
                f"{tool} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return done

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.conninfo(database), autocommit=True)

    def create_database(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _configure(self) -> None:
        settings = [
            f"listen_addresses = '{self.host}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            *_FAST,
            *self.config,
        ]
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            # Appended, so a data dir copied from another server takes this one's port.
            conf.write("\n# tests/services/postgres.py\n" + "\n".join(settings) + "\n")

    def _kill(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class PostgresDatabase:
    server: PostgresServer
    name: str

    @property
    def url(self) -> str:
        return self.server.url(self.name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One server for the whole session; tests isolate themselves with databases."""
    reason = unavailable_reason()
    if reason is not None:
        require_service("PostgreSQL", reason)
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[PostgresDatabase]:
    """A fresh, empty database for one test, dropped afterwards."""
    database = PostgresDatabase(postgres_server, f"test_{uuid4().hex[:16]}")
    postgres_server.create_database(database.name)
    yield database
    postgres_server.drop_database(database.name)


@contextlib.contextmanager
def stoppable_server() -> Iterator[PostgresServer]:
    """A server of its own, with a database "golive", for a test that stops and starts it."""
    reason = unavailable_reason()
    if reason is not None:
        require_service("PostgreSQL", reason)
    # Commits must survive the stop: the fast settings of the test servers would lose them.
    server = PostgresServer(port=free_port(), config=["synchronous_commit = on"])
    server.start()
    server.create_database("golive")
    try:
        yield server
    finally:
        server.stop()
