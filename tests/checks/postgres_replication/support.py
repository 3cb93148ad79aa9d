"""Build a checklist around one postgres_replication item, load it the real way and run it."""

from __future__ import annotations

from typing import Any

import yaml

from golive.checks.loader import loads
from golive.checks.results import ItemResult
from golive.checks.runner import run_checklist
from tests.services.postgres import PostgresServer


def checklist_yaml(probe: dict[str, Any], *, timeout: str, **fields: Any) -> str:
    item = {"id": "replication", "title": "PostgreSQL Replikation", "probe": probe, **fields}
    return yaml.safe_dump(
        {
            "release": {"name": "VALEO-NeuroERP", "version": "1.1.0"},
            "defaults": {"timeout": timeout},
            "phases": [
                {
                    "id": "p2",
                    "title": "Integration",
                    "sections": [{"id": "db", "title": "Datenbank", "items": [item]}],
                }
            ],
        }
    )


def pg_probe(server: PostgresServer, role: str, **config: Any) -> dict[str, Any]:
    """Over TCP as the superuser (trusted) unless ``config`` says otherwise."""
    return {
        "type": "postgres_replication",
        "role": role,
        "host": server.host,
        "port": server.port,
        "user": server.superuser,
        **config,
    }


async def run_one(probe: dict[str, Any], *, timeout: str = "10s", **fields: Any) -> ItemResult:
    checklist = loads(checklist_yaml(probe, timeout=timeout, **fields), env={})
    outcome = await run_checklist(checklist)
    return outcome.results["replication"]
