"""Real servers for tests, started from temporary directories on loopback ports.

A test whose server cannot run here skips with the reason, except under
``GOLIVE_REQUIRE_SERVICES=1`` (CI), where a missing server is a failure: a green run
must not hide that the PostgreSQL tests never ran.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

REQUIRE_ENV = "GOLIVE_REQUIRE_SERVICES"


def require_service(name: str, reason: str) -> NoReturn:
    """Skip the test for want of ``name``, or fail it when services are required."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{name} is required ({REQUIRE_ENV}=1) but cannot run: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (another process may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
