"""The postgres_replication probe against a real primary and real streaming replicas."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from golive.checks.results import ItemResult
from golive.checks.status import Status
from tests.services import free_port

from .conftest import MONITOR_PASSWORD, MONITOR_USER, PLAIN_USER, Cluster, StartReplica, wait_for
from .support import pg_probe, run_one

WRONG_PASSWORD = "wrong-pg-pw-0b7d33"


def _no_secret_in(result: ItemResult, *secrets: str) -> None:
    text = json.dumps([result.message, dict(result.observed)])
    for secret in secrets:
        assert secret not in text
    # Not even redacted: the probe never put a secret into what it reports.
    assert "[REDACTED]" not in text


async def test_primary_with_a_streaming_replica(cluster: Cluster) -> None:
    result = await run_one(
        pg_probe(cluster.primary, "primary"),
        conditions=[
            "[STREAMING_REPLICAS] >= 1",
            "[MAX_REPLAY_LAG_BYTES] < 16777216",
            "[REPLICAS][0].state == streaming",
            "[IN_RECOVERY] == false",
        ],
    )
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["STREAMING"] is True
    assert observed["STREAMING_REPLICAS"] == 1
    assert observed["SYNC_REPLICAS"] == 0
    assert observed["ROLE"] == "primary"
    [replica] = observed["REPLICAS"]
    assert replica["application_name"] == "replica_a"
    assert replica["client_addr"] == "127.0.0.1"
    assert replica["state"] == "streaming"
    assert replica["sync_state"] == "async"
    assert replica["kind"] == "physical"
    assert replica["replay_lag_bytes"] == observed["MAX_REPLAY_LAG_BYTES"] >= 0
    assert observed["MAX_REPLAY_LAG_S"] >= 0
    assert result.message.startswith(
        f"primary 127.0.0.1:{cluster.primary.port}: 1 streaming replica(s) of 1 WAL sender(s)"
    )
    assert result.evidence is not None
    assert result.evidence.source == f"postgresql://127.0.0.1:{cluster.primary.port}/postgres"
    json.dumps(dict(observed))  # stored as JSON: no Decimal, no timedelta


async def test_replica_view_with_the_receiver_streaming(cluster: Cluster) -> None:
    result = await run_one(pg_probe(cluster.replica, "replica"))
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["RECEIVER_STATUS"] == "streaming"
    assert observed["STREAMING"] is True
    assert observed["IN_RECOVERY"] is True
    assert observed["SENDER"] == f"127.0.0.1:{cluster.primary.port}"
    assert observed["REPLAY_LAG_BYTES"] >= 0
    assert observed["REPLAY_PAUSED"] is False
    assert "STREAMING_REPLICAS" not in observed
    assert f"WAL receiver streaming from 127.0.0.1:{cluster.primary.port}" in result.message


async def test_a_replica_whose_replay_is_paused_lags_in_bytes(cluster: Cluster) -> None:
    primary, replica = cluster.primary, cluster.replica
    with replica.connect() as connection:
        connection.execute("SELECT pg_wal_replay_pause()")
    try:
        with primary.connect() as connection:
            connection.execute("CREATE TABLE filler AS SELECT g AS n FROM generate_series(1, 20000) g")
            target = connection.execute("SELECT pg_current_wal_lsn()").fetchone()
        assert target is not None
        # Received (the receiver keeps streaming) but not replayed.
        wait_for(replica, "SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", target[0])
        on_primary = await run_one(
            pg_probe(primary, "primary"),
            conditions=["[STREAMING] == true", "[MAX_REPLAY_LAG_BYTES] < 100000"],
        )
        on_replica = await run_one(
            pg_probe(replica, "replica"),
            conditions=["[RECEIVER_STATUS] == streaming", "[REPLAY_LAG_BYTES] < 100000"],
        )
    finally:
        with replica.connect() as connection:
            connection.execute("SELECT pg_wal_replay_resume()")
        with primary.connect() as connection:
            connection.execute("DROP TABLE filler")
        wait_for(replica, "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()")

    assert on_primary.status == Status.FAIL
    lag = on_primary.observed["MAX_REPLAY_LAG_BYTES"]
    assert lag >= 100000
    assert f"[MAX_REPLAY_LAG_BYTES] = {lag} bytes, limit < 100000 bytes" in on_primary.message
    assert on_primary.observed["STREAMING_REPLICAS"] == 1  # streaming, just behind

    assert on_replica.status == Status.FAIL
    assert on_replica.observed["REPLAY_PAUSED"] is True
    behind = on_replica.observed["REPLAY_LAG_BYTES"]
    assert f"[REPLAY_LAG_BYTES] = {behind} bytes, limit < 100000 bytes" in on_replica.message
    assert "replay paused" in on_replica.message


async def test_replay_age_is_absent_until_the_first_transaction_is_replayed(
    cluster: Cluster, own_replicas: StartReplica
) -> None:
    replica = own_replicas(cluster.primary, "replica_fresh")
    fresh = await run_one(pg_probe(replica, "replica"), conditions=["[LAST_REPLAY_AGE_S] < 60"])
    assert fresh.status == Status.FAIL
    assert "LAST_REPLAY_AGE_S" not in fresh.observed  # NULL until then: not 0
    assert "[LAST_REPLAY_AGE_S] = (not observed), limit < 60 s" in fresh.message

    with cluster.primary.connect() as connection:
        connection.execute("CREATE TABLE one_commit ()")
        connection.execute("DROP TABLE one_commit")
    wait_for(replica, "SELECT pg_last_xact_replay_timestamp() IS NOT NULL")
    replayed = await run_one(pg_probe(replica, "replica"), conditions=["[LAST_REPLAY_AGE_S] < 60"])
    assert replayed.status == Status.PASS, replayed.message
    assert 0 <= replayed.observed["LAST_REPLAY_AGE_S"] < 60


async def test_stopped_replica_leaves_the_primary_without_streaming_replicas(cluster: Cluster) -> None:
    primary, replica = cluster.primary, cluster.replica
    replica.run("pg_ctl", "stop", "-D", replica.data_dir, "-m", "fast", "-w")
    try:
        wait_for(primary, "SELECT count(*) = 0 FROM pg_stat_replication")
        stopped = await run_one(pg_probe(primary, "primary"))
        # The bundled checklist's conditions: a lag that cannot exist without a replica
        # is not a second failure.
        bundled = await run_one(
            pg_probe(primary, "primary"),
            conditions=["[STREAMING_REPLICAS] >= 1", "[MAX_REPLAY_LAG_BYTES] < 16777216"],
        )
    finally:
        replica.start(init=False)  # the same data directory: it reconnects and catches up
        wait_for(primary, "SELECT count(*) = 1 FROM pg_stat_replication WHERE state = 'streaming'")
    assert stopped.status == Status.FAIL
    assert stopped.observed["STREAMING_REPLICAS"] == 0
    assert stopped.observed["REPLICAS"] == []
    assert "MAX_REPLAY_LAG_BYTES" not in stopped.observed  # no replica, no lag to show
    assert "0 streaming replica(s) of 0 WAL sender(s)" in stopped.message
    assert "[STREAMING] = false, limit == true" in stopped.message
    assert bundled.status == Status.FAIL
    assert "[STREAMING_REPLICAS] = 0, limit >= 1" in bundled.message
    assert "MAX_REPLAY_LAG_BYTES" not in bundled.message

    back = await run_one(pg_probe(primary, "primary"))
    assert back.status == Status.PASS, back.message


@pytest.mark.parametrize(
    ("target", "role", "expected"),
    [
        ("replica", "primary", "is a replica (pg_is_in_recovery() = true), but the item expects a primary"),
        ("primary", "replica", "is a primary (pg_is_in_recovery() = false), but the item expects a replica"),
    ],
)
async def test_the_wrong_role_fails_and_says_which_role_it_is(
    cluster: Cluster, target: str, role: str, expected: str
) -> None:
    server = cluster.replica if target == "replica" else cluster.primary
    result = await run_one(pg_probe(server, role))
    assert result.status == Status.FAIL
    assert f"127.0.0.1:{server.port} {expected}" in result.message
    assert result.observed["IN_RECOVERY"] is (target == "replica")
    assert result.observed["ROLE"] == target


async def test_password_right_wrong_and_missing(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = pg_probe(cluster.primary, "primary", user=MONITOR_USER, password={"env": "GOLIVE_TEST_PG_PW"})

    monkeypatch.setenv("GOLIVE_TEST_PG_PW", MONITOR_PASSWORD)
    right = await run_one(probe)
    assert right.status == Status.PASS, right.message  # pg_monitor sees the details
    assert right.observed["STREAMING_REPLICAS"] == 1

    monkeypatch.setenv("GOLIVE_TEST_PG_PW", WRONG_PASSWORD)
    wrong = await run_one(probe)
    assert wrong.status == Status.ERROR
    assert wrong.message.startswith("not authorised: ")
    assert f'password authentication failed for user "{MONITOR_USER}"' in wrong.message
    assert "TEMPORARY" not in wrong.observed

    missing = await run_one({k: v for k, v in probe.items() if k != "password"})
    assert missing.status == Status.ERROR
    assert missing.message.startswith("not authorised: ")
    assert "no password supplied" in missing.message

    for result in (right, wrong, missing):
        _no_secret_in(result, MONITOR_PASSWORD, WRONG_PASSWORD)


async def test_an_unset_password_variable_means_no_password(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOLIVE_TEST_PG_PW", raising=False)
    # The superuser is trusted: no password is needed, and none is demanded.
    trusted = await run_one(pg_probe(cluster.primary, "primary", password={"env": "GOLIVE_TEST_PG_PW"}))
    assert trusted.status == Status.PASS, trusted.message
    assert trusted.observed["STREAMING_REPLICAS"] == 1
    # The monitor user needs one: the server's refusal is the error, naming what to set.
    refused = await run_one(
        pg_probe(cluster.primary, "primary", user=MONITOR_USER, password={"env": "GOLIVE_TEST_PG_PW"})
    )
    assert refused.status == Status.ERROR
    assert refused.message.startswith("not authorised: ")
    assert "no password supplied" in refused.message
    assert refused.message.endswith("set the environment variable GOLIVE_TEST_PG_PW")


async def test_a_refused_password_names_where_it_came_from(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLIVE_TEST_PG_PW", WRONG_PASSWORD)
    wrong = await run_one(
        pg_probe(cluster.primary, "primary", user=MONITOR_USER, password={"env": "GOLIVE_TEST_PG_PW"})
    )
    assert wrong.status == Status.ERROR
    assert wrong.message.endswith("check the password in the environment variable GOLIVE_TEST_PG_PW")
    _no_secret_in(wrong, WRONG_PASSWORD)


async def test_a_user_without_pg_monitor_is_not_authorised(cluster: Cluster) -> None:
    result = await run_one(pg_probe(cluster.primary, "primary", user=PLAIN_USER))
    assert result.status == Status.ERROR
    assert result.message == (
        f"not authorised: {PLAIN_USER} sees pg_stat_replication on 127.0.0.1:{cluster.primary.port} "
        f"without details (NULLs); GRANT pg_monitor TO {PLAIN_USER}"
    )


async def test_dsn_from_the_environment(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    port = cluster.primary.port
    monkeypatch.setenv(
        "GOLIVE_TEST_PG_DSN",
        f"postgresql://{MONITOR_USER}:{MONITOR_PASSWORD}@127.0.0.1:{port}/postgres",
    )
    probe = {"type": "postgres_replication", "role": "primary", "dsn": {"env": "GOLIVE_TEST_PG_DSN"}}
    result = await run_one(probe)
    assert result.status == Status.PASS, result.message
    assert result.evidence is not None
    assert result.evidence.source == f"postgresql://127.0.0.1:{port}/postgres"
    _no_secret_in(result, MONITOR_PASSWORD)

    monkeypatch.setenv("GOLIVE_TEST_PG_DSN", f"host=127.0.0.1 password='{MONITOR_PASSWORD} port=")
    broken = await run_one(probe)
    assert broken.status == Status.ERROR
    assert broken.message == "the DSN from env GOLIVE_TEST_PG_DSN is not a valid connection string"


async def test_nothing_listening_is_a_temporary_error() -> None:
    port = free_port()
    result = await run_one(_unknown_server(port))
    assert result.status == Status.ERROR
    assert result.message == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert result.observed == {"TEMPORARY": True}


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


async def test_a_server_that_never_answers_is_cut_at_the_timeout(silent_port: int) -> None:
    result = await run_one(_unknown_server(silent_port), timeout="1s")
    assert result.status == Status.ERROR
    assert result.message == "timed out after 1s"
    assert result.observed == {"TEMPORARY": True}


def _unknown_server(port: int) -> dict[str, object]:
    return {"type": "postgres_replication", "role": "primary", "host": "127.0.0.1", "port": port, "user": "x"}
