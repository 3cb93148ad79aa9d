"""Real redis-server processes on 127.0.0.1, started per test (each takes ~50 ms)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.services import require_service
from tests.services.redis import RedisServer, unavailable_reason

#: Without it a master waits 5 s for more replicas before it streams the first snapshot.
NO_SYNC_DELAY = ("--repl-diskless-sync-delay", "0")

StartRedis = Callable[..., RedisServer]


@dataclass(frozen=True)
class Pair:
    master: RedisServer
    replica: RedisServer


@pytest.fixture
def start_redis() -> Iterator[StartRedis]:
    """Start servers for one test: ``start_redis(args=[...], password=...)``; all stop after."""
    reason = unavailable_reason()
    if reason is not None:
        require_service("Redis", reason)
    started: list[RedisServer] = []

    def start(**options: Any) -> RedisServer:
        server = RedisServer(**options)
        started.append(server)
        return server.start()

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def pair(start_redis: StartRedis) -> Pair:
    """A master and one real replica (``--replicaof``), in sync."""
    master = start_redis(args=NO_SYNC_DELAY)
    replica = start_redis(args=["--replicaof", master.host, str(master.port)])
    replica.wait_until(lambda info: info.get("master_link_status") == "up")
    master.wait_until(lambda info: info.get("slave0", {}).get("state") == "online")
    return Pair(master, replica)
