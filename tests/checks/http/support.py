"""Build a checklist around a few items, load it the real way and run it."""

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
                    "id": "p2",
                    "title": "Deployment",
                    "sections": [{"id": "health", "title": "Health", "items": list(items)}],
                }
            ],
        }
    )


def item(item_id: str, probe: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "title": f"Check {item_id}", "probe": probe, **fields}


async def run(*items: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, ItemResult]:
    checklist = loads(checklist_yaml(*items), env=env or {})
    outcome = await run_checklist(checklist)
    return dict(outcome.results)
