"""Build a checklist around a few grafana items, load it the real way and run it."""

from __future__ import annotations

from typing import Any

import yaml

from golive.checks.loader import loads
from golive.checks.results import ItemResult
from golive.checks.runner import run_checklist


def checklist_yaml(*items: dict[str, Any], timeout: str = "5s") -> str:
    return yaml.safe_dump(
        {
            "release": {"name": "VALEO-NeuroERP", "version": "1.1.0"},
            "defaults": {"timeout": timeout},
            "phases": [
                {
                    "id": "p5",
                    "title": "Monitoring",
                    "sections": [{"id": "p5-grafana", "title": "Grafana", "items": list(items)}],
                }
            ],
        }
    )


def item(item_id: str, probe: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "title": f"Check {item_id}", "probe": probe, **fields}


async def run(
    *items: dict[str, Any], env: dict[str, str] | None = None, timeout: str = "5s"
) -> dict[str, ItemResult]:
    checklist = loads(checklist_yaml(*items, timeout=timeout), env=env or {})
    outcome = await run_checklist(checklist)
    return dict(outcome.results)


async def run_one(probe: dict[str, Any], **fields: Any) -> ItemResult:
    env = fields.pop("env", None)
    return (await run(item("probe", probe, **fields), env=env))["probe"]
