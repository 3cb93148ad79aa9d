"""A real PostgreSQL primary with a real streaming replica (initdb, pg_basebackup -R).

The cluster is shared by the module; a test that breaks replication restores it, and a
test that needs a replica in a fresh state starts one of its own. The primary's
pg_hba.conf asks one user, ``monitor``, for a SCRAM password, so wrong and missing
passwords can be tested; everyone else is trusted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.services import require_service
from tests.services.postgres import PostgresServer, unavailable_reason

MONITOR_USER = "monitor"
MONITOR_PASSWORD = "pg-monitor-pw-6a41c9"
#: A user without pg_monitor: pg_stat_replication shows it rows without details.
PLAIN_USER = "plain"

_HBA_FIRST_LINES = f"host all {MONITOR_USER} 127.0.0.1/32 scram-sha-256\n"


@dataclass(frozen=True)
class Cluster:
    primary: PostgresServer
    replica: PostgresServer


def start_primary() -> PostgresServer:
    reason = unavailable_reason()
    if reason is not None:
        require_service("PostgreSQL", reason)
    # No autovacuum: its commits would be replayed at random moments, and one test needs
    # a replica that has replayed no transaction yet.
    primary = PostgresServer(config=["autovacuum = off"]).start()
    hba = primary.data_dir / "pg_hba.conf"
    # Rewritten in place, so the file keeps its owner (the postgres OS user).
    hba.write_text(_HBA_FIRST_LINES + hba.read_text())
    with primary.connect() as connection:
        connection.execute(
            f"CREATE ROLE {MONITOR_USER} LOGIN PASSWORD '{MONITOR_PASSWORD}' IN ROLE pg_monitor"
        )
        connection.execute(f"CREATE ROLE {PLAIN_USER} LOGIN")
        connection.execute("SELECT pg_reload_conf()")
    return primary


def start_replica(primary: PostgresServer, name: str) -> PostgresServer:
    """A streaming replica of ``primary`` whose application_name is ``name``."""
    replica = PostgresServer(
        config=[
            "hot_standby = on",
            f"cluster_name = '{name}'",  # the walreceiver's application_name
            "wal_receiver_status_interval = 1",  # report replay progress every second
        ]
    ).prepare()
    try:
        primary.run(
            "pg_basebackup", "-D", replica.data_dir, "-R", "-X", "stream", "-c", "fast",
            "-h", primary.host, "-p", primary.port, "-U", primary.superuser,
        )
        replica.start(init=False)
        wait_for(
            primary,
            "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = %s "
            "AND state = 'streaming' AND replay_lsn IS NOT NULL",
            name,
        )
    except BaseException:
        replica.stop()
        raise
    return replica


def wait_for(server: PostgresServer, query: str, *params: Any, timeout: float = 20.0) -> None:
    """Poll until ``query`` returns true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with server.connect() as connection:
            row = connection.execute(query, params).fetchone()
        if row is not None and row[0]:
            return
        time.sleep(0.05)
    raise TimeoutError(f"not true within {timeout}s on port {server.port}: {query} {params}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    primary = start_primary()
    try:
        replica = start_replica(primary, "replica_a")
        try:
            yield Cluster(primary, replica)
        finally:
            replica.stop()
    finally:
        primary.stop()


StartReplica = Callable[[PostgresServer, str], PostgresServer]


@pytest.fixture
def own_replicas() -> Iterator[StartReplica]:
    """``own_replicas(primary, name)``: replicas for one test, stopped after it."""
    started: list[PostgresServer] = []

    def start(primary: PostgresServer, name: str) -> PostgresServer:
        replica = start_replica(primary, name)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.stop()
