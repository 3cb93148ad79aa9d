"""Build checklist items for the Kubernetes probes, load them the real way and run them.

Every test goes through ``loads`` and ``run_checklist``; the real ``kubernetes`` client
talks HTTP to the fake API server. The fixture clusters describe the world as of
:data:`NOW`, and the checklist runs as of that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from golive.checks.loader import loads
from golive.checks.results import ItemResult
from golive.checks.runner import run_checklist

from .fake_apiserver import FakeApiServer

CLUSTERS = Path(__file__).parent / "clusters"
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Kube:
    server: FakeApiServer
    secure: FakeApiServer
    token_file: Path
    ca_file: Path
    #: Port of a plain HTTP server with the routes of tests/checks/http/servers.py.
    backend_port: int
    directory: Path

    def probe(self, probe_type: str, cluster: str, **config: Any) -> dict[str, Any]:
        """A probe config that reaches ``cluster`` on the fake server with the test token."""
        return {
            "type": probe_type,
            "server": self.server.url(cluster),
            "token": {"file": str(self.token_file)},
            **config,
        }


def item(item_id: str, probe: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "title": f"Check {item_id}", "probe": probe, **fields}


def checklist_yaml(items: list[dict[str, Any]], timeout: str = "10s") -> str:
    return yaml.safe_dump(
        {
            "release": {"name": "VALEO-NeuroERP", "version": "1.1.0"},
            "defaults": {"timeout": timeout},
            "phases": [
                {
                    "id": "p2",
                    "title": "Deployment",
                    "sections": [{"id": "kubernetes", "title": "Kubernetes", "items": items}],
                }
            ],
        },
        sort_keys=False,
    )


async def run(*items: dict[str, Any], timeout: str = "10s", now: datetime = NOW) -> dict[str, ItemResult]:
    checklist = loads(checklist_yaml(list(items), timeout=timeout), env={})
    outcome = await run_checklist(checklist, now=lambda: now)
    return dict(outcome.results)


async def run_one(probe: dict[str, Any], *, timeout: str = "10s", **fields: Any) -> ItemResult:
    return (await run(item("probe", probe, **fields), timeout=timeout))["probe"]
