"""The test servers themselves: skipping rules, and a server that cleans up after itself."""

from __future__ import annotations

import psycopg
import pytest

from . import REQUIRE_ENV, require_service
from .postgres import PostgresServer


def test_a_missing_service_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis unavailable: not installed"):
        require_service("redis", "not installed")


def test_a_missing_service_fails_when_services_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="redis is required"):
        require_service("redis", "not installed")


@pytest.mark.services
def test_postgres_server_answers_on_its_port_and_socket(postgres_server: PostgresServer) -> None:
    with postgres_server.connect() as connection:
        row = connection.execute(
            "SELECT inet_server_port(), current_setting('unix_socket_directories')"
        ).fetchone()
    assert row == (postgres_server.port, str(postgres_server.socket_dir))
    assert (postgres_server.socket_dir / f".s.PGSQL.{postgres_server.port}").exists()


@pytest.mark.services
def test_postgres_server_stops_and_leaves_nothing_behind(
    postgres_server: PostgresServer,  # skips (or fails) like the others when unavailable
) -> None:
    server = PostgresServer(config=["max_connections = 20"])
    with server:
        root = server.root
        with server.connect() as connection:
            assert connection.execute("SHOW max_connections").fetchone() == ("20",)
    assert not root.exists()
    with pytest.raises(psycopg.OperationalError):
        server.connect().close()
