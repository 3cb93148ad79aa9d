"""The redis probe against real redis-server processes on 127.0.0.1, through loader and runner."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from golive.checks.status import Status
from tests.checks.http.servers import issue_certificate, make_ca
from tests.services import free_port
from tests.services.redis import TlsFiles

from .conftest import Pair, StartRedis
from .support import redis_probe, run_one

PASSWORD = "redis-pw-5d8e2f"
WRONG_PASSWORD = "not-the-pw-91c3"


async def test_master_with_an_online_replica(pair: Pair) -> None:
    result = await run_one(
        redis_probe(pair.master.url, expect_role="master", min_replicas=1),
        conditions=[
            "[PONG] == true",
            "[ROUND_TRIP] == true",
            "[ONLINE_REPLICAS] >= 1",
            "[REPLICAS][0].state == online",
            "[MAX_REPLICA_LAG_BYTES] < 1000000",
            "[LATENCY_MS] < 1000",
        ],
    )
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["PONG"] is True
    assert observed["ROUND_TRIP"] is True
    assert observed["ROLE"] == "master"
    assert observed["CONNECTED_REPLICAS"] == 1
    assert observed["ONLINE_REPLICAS"] == 1
    [replica] = observed["REPLICAS"]
    assert replica["ip"] == "127.0.0.1"
    assert replica["port"] == pair.replica.port
    assert replica["state"] == "online"
    assert isinstance(replica["offset"], int)
    assert replica["lag_bytes"] == observed["MAX_REPLICA_LAG_BYTES"] >= 0
    assert observed["MAX_REPLICA_LAG_S"] >= 0
    assert "MASTER_LINK" not in observed  # a master has no link of its own
    assert 0 < observed["LATENCY_MS"] < 1000
    assert "master, 1/1 replica(s) online" in result.message
    assert result.evidence is not None
    assert result.evidence.source == pair.master.url
    json.dumps(dict(observed))  # stored as JSON
    # The write check cleans up after itself.
    with pair.master.client() as client:
        assert client.keys("golive:probe:*") == []


async def test_master_with_fewer_online_replicas_than_required_fails(pair: Pair) -> None:
    result = await run_one(redis_probe(pair.master.url, min_replicas=2))
    assert result.status == Status.FAIL
    assert "1 replica(s) online of 1 connected, at least 2 required" in result.message


async def test_master_without_replicas_has_no_lag_values(start_redis: StartRedis) -> None:
    server = start_redis()
    result = await run_one(
        redis_probe(server.url), conditions=["[PONG] == true", "[MAX_REPLICA_LAG_BYTES] < 1000"]
    )
    assert result.status == Status.FAIL
    assert result.observed["CONNECTED_REPLICAS"] == 0
    assert result.observed["REPLICAS"] == []
    assert "MAX_REPLICA_LAG_BYTES" not in result.observed
    assert "[MAX_REPLICA_LAG_BYTES] = (not observed)" in result.message


async def test_replica_view_with_the_link_up(pair: Pair) -> None:
    result = await run_one(redis_probe(pair.replica.url, write_check=False, expect_role="slave"))
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["ROLE"] == "slave"
    assert observed["MASTER"] == f"127.0.0.1:{pair.master.port}"
    assert observed["MASTER_LINK"] == "up"
    assert observed["MASTER_LAST_IO_S"] >= 0
    assert observed["MASTER_SYNC_IN_PROGRESS"] is False
    assert "MASTER_LINK_DOWN_S" not in observed
    assert "ROUND_TRIP" not in observed  # not asked for, not made up
    assert f"replica of 127.0.0.1:{pair.master.port}, link up" in result.message


async def test_expecting_a_master_but_finding_a_replica_fails(pair: Pair) -> None:
    result = await run_one(redis_probe(pair.replica.url, write_check=False, expect_role="master"))
    assert result.status == Status.FAIL
    assert result.message.startswith("role is slave, expected master")


async def test_write_check_on_a_read_only_replica_is_a_configuration_error(pair: Pair) -> None:
    result = await run_one(redis_probe(pair.replica.url))
    assert result.status == Status.ERROR
    assert "read-only replica" in result.message
    assert "set write_check: false" in result.message
    assert "TEMPORARY" not in result.observed


async def test_replica_whose_master_died_fails_on_the_link(pair: Pair) -> None:
    pair.master.kill()
    pair.replica.wait_until(lambda info: info.get("master_link_status") == "down")
    result = await run_one(redis_probe(pair.replica.url, write_check=False))
    assert result.status == Status.FAIL
    assert "[MASTER_LINK] = down, limit != down" in result.message
    assert result.observed["MASTER_LINK"] == "down"
    assert result.observed["MASTER_LINK_DOWN_S"] >= 0
    assert "MASTER_LAST_IO_S" not in result.observed  # Redis says -1: unknown, not 0


async def test_replica_that_never_reached_its_master(start_redis: StartRedis) -> None:
    dead_port = free_port()
    replica = start_redis(args=["--replicaof", "127.0.0.1", str(dead_port)])
    result = await run_one(redis_probe(replica.url, write_check=False))
    assert result.status == Status.FAIL
    assert result.observed["MASTER_LINK"] == "down"
    assert "MASTER_LINK_DOWN_S" not in result.observed
    assert "never up since the replica started" in result.message


async def test_a_stalled_replica_shows_its_lag_in_bytes(pair: Pair) -> None:
    # A stopped replica process keeps its connection, so the master still counts it
    # online, but its acknowledged offset stays behind while the master takes writes.
    assert pair.replica._process is not None
    os.kill(pair.replica._process.pid, signal.SIGSTOP)
    try:
        with pair.master.client() as client:
            client.set("filler", "x" * 50_000)
        result = await run_one(
            redis_probe(pair.master.url, write_check=False),
            conditions=["[MAX_REPLICA_LAG_BYTES] < 1000"],
        )
    finally:
        os.kill(pair.replica._process.pid, signal.SIGCONT)
    assert result.status == Status.FAIL
    lag = result.observed["MAX_REPLICA_LAG_BYTES"]
    assert lag > 50_000
    assert f"[MAX_REPLICA_LAG_BYTES] = {lag} bytes, limit < 1000 bytes" in result.message


async def test_password_right_wrong_and_missing(
    start_redis: StartRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_redis(password=PASSWORD)
    probe = redis_probe(server.url, password={"env": "GOLIVE_TEST_REDIS_PW"})

    monkeypatch.setenv("GOLIVE_TEST_REDIS_PW", PASSWORD)
    right = await run_one(probe)
    assert right.status == Status.PASS, right.message
    assert right.observed["ROUND_TRIP"] is True

    monkeypatch.setenv("GOLIVE_TEST_REDIS_PW", WRONG_PASSWORD)
    wrong = await run_one(probe)
    assert wrong.status == Status.ERROR
    assert wrong.message.startswith(f"not authorised: 127.0.0.1:{server.port} rejected the password")
    assert "TEMPORARY" not in wrong.observed
    assert WRONG_PASSWORD not in wrong.message

    missing = await run_one(redis_probe(server.url))
    assert missing.status == Status.ERROR
    assert "requires a password (NOAUTH)" in missing.message
    assert "TEMPORARY" not in missing.observed

    for result in (right, wrong, missing):
        text = json.dumps([result.message, dict(result.observed)])
        # Not even redacted: the probe never puts a password into what it reports.
        assert PASSWORD not in text and "[REDACTED]" not in text


async def test_an_unset_password_variable_means_no_password(
    start_redis: StartRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOLIVE_TEST_REDIS_PW", raising=False)
    probe = {"password": {"env": "GOLIVE_TEST_REDIS_PW"}}
    open_server = start_redis()
    without = await run_one(redis_probe(open_server.url, **probe))
    assert without.status == Status.PASS, without.message
    # A server that wants one refuses: the error names the variable to set.
    locked = start_redis(password=PASSWORD)
    refused = await run_one(redis_probe(locked.url, **probe))
    assert refused.status == Status.ERROR
    assert refused.message == (
        f"not authorised: 127.0.0.1:{locked.port} requires a password (NOAUTH); "
        "set the environment variable GOLIVE_TEST_REDIS_PW"
    )


async def test_a_password_for_a_server_without_one_is_reported(
    start_redis: StartRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_redis()
    monkeypatch.setenv("GOLIVE_TEST_REDIS_PW", PASSWORD)
    result = await run_one(redis_probe(server.url, password={"env": "GOLIVE_TEST_REDIS_PW"}))
    assert result.status == Status.ERROR
    assert "has no password for this user, but the checklist gives one" in result.message


async def test_acl_user_without_write_rights(
    start_redis: StartRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_redis()
    with server.client() as admin:
        admin.execute_command(
            "ACL", "SETUSER", "monitor", "on", f">{PASSWORD}", "~golive:*", "+ping", "+info"
        )
    probe = redis_probe(server.url, username="monitor", password={"env": "GOLIVE_TEST_REDIS_PW"})
    monkeypatch.setenv("GOLIVE_TEST_REDIS_PW", PASSWORD)

    writing = await run_one(probe)
    assert writing.status == Status.ERROR
    assert writing.message.startswith("not authorised: ACL user 'monitor' may not run the write check")
    assert writing.message.endswith("grant it, or set write_check: false")

    reading = await run_one({**probe, "write_check": False})
    assert reading.status == Status.PASS, reading.message

    wrong_user = await run_one({**probe, "username": "nobody"})
    assert wrong_user.status == Status.ERROR
    assert "rejected the password for user 'nobody'" in wrong_user.message


async def test_a_full_server_fails_the_round_trip(start_redis: StartRedis) -> None:
    server = start_redis(args=["--maxmemory", "1", "--maxmemory-policy", "noeviction"])
    result = await run_one(redis_probe(server.url))
    assert result.status == Status.FAIL
    assert result.observed["ROUND_TRIP"] is False
    assert result.observed["PONG"] is True
    assert "the write check failed: command not allowed when used memory > 'maxmemory'" in result.message
    assert "[ROUND_TRIP] = false, limit != false" in result.message


async def test_stopped_server_is_a_temporary_error(start_redis: StartRedis) -> None:
    server = start_redis()
    url, port = server.url, server.port
    server.stop()
    result = await run_one(redis_probe(url))
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


async def test_a_server_that_never_answers_times_out(silent_port: int) -> None:
    result = await run_one(redis_probe(f"redis://127.0.0.1:{silent_port}/0"), timeout="1s")
    assert result.status == Status.ERROR
    assert result.message == f"127.0.0.1:{silent_port}: timed out after 0.9s during PING"
    assert result.observed == {"TEMPORARY": True}
    assert result.duration_ms < 2000


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    from cryptography.hazmat.primitives import serialization

    directory: Path = tmp_path_factory.mktemp("redis-tls")
    issuer = make_ca()
    ca = directory / "ca.pem"
    ca.write_bytes(issuer.certificate.public_bytes(serialization.Encoding.PEM))
    now = datetime.now(UTC)
    valid = (now - timedelta(days=1), now + timedelta(days=30))
    cert, key = issue_certificate(issuer, directory, "redis", *valid)
    return TlsFiles(cert=cert, key=key, ca=ca)


async def test_tls_with_the_ca_and_without_it(start_redis: StartRedis, tls_files: TlsFiles) -> None:
    server = start_redis(tls=tls_files)
    assert server.url.startswith("rediss://")

    trusted = await run_one(redis_probe(server.url, tls={"ca_file": str(tls_files.ca)}))
    assert trusted.status == Status.PASS, trusted.message
    assert trusted.evidence is not None and trusted.evidence.source == server.url

    untrusted = await run_one(redis_probe(server.url))
    assert untrusted.status == Status.ERROR
    # Redis sends the CA along with its certificate, so OpenSSL sees a self-signed root.
    assert untrusted.message.startswith("certificate verify failed: self-signed certificate")
    assert untrusted.message.endswith("set tls.ca_file to the CA that issued it")
    assert "TEMPORARY" not in untrusted.observed

    unverified = await run_one(redis_probe(server.url, tls={"verify": False}))
    assert unverified.status == Status.PASS, unverified.message


async def test_host_port_form_with_database(start_redis: StartRedis) -> None:
    server = start_redis()
    result = await run_one({"type": "redis", "host": "127.0.0.1", "port": server.port, "db": 3})
    assert result.status == Status.PASS, result.message
    assert result.evidence is not None
    assert result.evidence.source == f"redis://127.0.0.1:{server.port}/3"
