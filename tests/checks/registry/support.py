"""Build a checklist around registry items, load it the real way and run it."""

from __future__ import annotations

from typing import Any

import yaml

from golive.checks.loader import loads
from golive.checks.results import ItemResult
from golive.checks.runner import run_checklist


def checklist_yaml(*items: dict[str, Any], version: str = "1.1.0") -> str:
    return yaml.safe_dump(
        {
            "release": {"name": "VALEO-NeuroERP", "version": version},
            "defaults": {"timeout": "10s"},
            "phases": [
                {
                    "id": "p1",
                    "title": "Build",
                    "sections": [{"id": "images", "title": "Docker Images", "items": list(items)}],
                }
            ],
        }
    )


def item(item_id: str, probe: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "title": f"Check {item_id}", "probe": probe, **fields}


def registry(url: str, *images: str, **config: Any) -> dict[str, Any]:
    return {"type": "registry", "url": url, "images": list(images), **config}


async def run_one(probe: dict[str, Any], *, version: str = "1.1.0", **fields: Any) -> ItemResult:
    """Run one item. Secrets are read from the process environment (monkeypatch.setenv)."""
    checklist = loads(checklist_yaml(item("images", probe, **fields), version=version), env={})
    outcome = await run_checklist(checklist)
    return outcome.results["images"]


def mb(size: int) -> float:
    return round(size / 1_000_000, 3)
