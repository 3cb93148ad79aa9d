"""The probes of a run share connections: many probes of one target reuse one kept-alive
connection instead of each opening its own, and sharing connections shares nothing else
(a cookie one probe was given is not sent by the next)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from golive.checks.loader import loads
from golive.checks.runner import run_checklist
from golive.checks.status import Status
from tests.hardening.targets import Target, target

from .conftest import Servers


@pytest.fixture
def keep_alive() -> Iterator[Target]:
    """An HTTP/1.1 target that keeps connections open and counts them."""
    with target() as served:
        yield served


def _checklist(items: list[dict[str, Any]], concurrency: int) -> str:
    return yaml.safe_dump(
        {
            "release": {"name": "Shop", "version": "2.0.0"},
            "defaults": {"concurrency": concurrency, "timeout": "10s"},
            "phases": [
                {"id": "p1", "title": "P1", "sections": [{"id": "s1", "title": "S1", "items": items}]}
            ],
        }
    )


async def test_probes_of_one_target_reuse_one_connection(keep_alive: Target) -> None:
    items = [
        {"id": f"ok-{n}", "title": f"OK {n}", "probe": {"type": "http", "url": f"{keep_alive.url}/ok?n={n}"}}
        for n in range(8)
    ]
    outcome = await run_checklist(loads(_checklist(items, concurrency=1), env={}))

    assert {r.status for r in outcome.results.values()} == {Status.PASS}
    assert len(keep_alive.requests) == 8
    assert keep_alive.connections == 1, f"{keep_alive.connections} connections for 8 probes one after another"


async def test_a_cookie_one_probe_was_given_is_not_sent_by_the_next(servers: Servers) -> None:
    items = [
        {"id": "login", "title": "Login", "probe": {"type": "http", "url": f"{servers.http}/cookie"}},
        {
            "id": "echo",
            "title": "Echo",
            "depends_on": ["login"],
            "probe": {"type": "http", "url": f"{servers.http}/echo"},
        },
    ]
    outcome = await run_checklist(loads(_checklist(items, concurrency=1), env={}))

    assert outcome.results["login"].observed["HEADERS"]["set-cookie"].startswith("session=")
    echoed = outcome.results["echo"].observed["BODY"]["headers"]
    assert "cookie" not in echoed, echoed
