"""Checklists built around a few items, loaded the real way and run: shared by the probe
family tests (each family's ``support`` module adds its own probe builders)."""

from __future__ import annotations

from typing import Any

import yaml

from golive.checks.loader import loads
from golive.checks.results import ItemResult
from golive.checks.runner import run_checklist


def checklist_yaml(*items: dict[str, Any], timeout: str = "5s", version: str = "1.1.0") -> str:
    return yaml.safe_dump(
        {
            "release": {"name": "VALEO-NeuroERP", "version": version},
            "defaults": {"timeout": timeout},
            "phases": [
                {
                    "id": "p1",
                    "title": "Phase",
                    "sections": [{"id": "s1", "title": "Section", "items": list(items)}],
                }
            ],
        }
    )


def item(item_id: str, probe: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "title": f"Check {item_id}", "probe": probe, **fields}


async def run(
    *items: dict[str, Any],
    env: dict[str, str] | None = None,
    timeout: str = "5s",
    version: str = "1.1.0",
    source: str = "<checklist>",
) -> dict[str, ItemResult]:
    """Secrets are read from the process environment (monkeypatch.setenv), like in production."""
    checklist = loads(checklist_yaml(*items, timeout=timeout, version=version), source=source, env=env or {})
    return dict((await run_checklist(checklist)).results)


async def run_one(
    probe: dict[str, Any],
    *,
    item_id: str = "probe",
    env: dict[str, str] | None = None,
    timeout: str = "5s",
    version: str = "1.1.0",
    **fields: Any,
) -> ItemResult:
    results = await run(item(item_id, probe, **fields), env=env, timeout=timeout, version=version)
    return results[item_id]
