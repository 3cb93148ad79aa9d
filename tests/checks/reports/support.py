"""Helpers for the report-probe tests: fixture paths, a checklist around items, running it.

Every test goes through the real path: a checklist YAML string, ``loads`` and
``run_checklist``, with the checklist placed in ``data/`` so relative report paths
resolve there, exactly as they would next to a real checklist file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from golive.checks.loader import loads
from golive.checks.results import ItemResult
from golive.checks.runner import run_checklist

DATA = Path(__file__).parent / "data"
#: The fixtures were "produced" on 2025-06-01/02; tests run the checklist as of this moment.
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def item(item_id: str, probe: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "title": f"Report item {item_id}", "probe": dict(probe), **fields}


def checklist_text(items: list[dict[str, Any]], **defaults: Any) -> str:
    document: dict[str, Any] = {
        "release": {"name": "VALEO-NeuroERP", "version": "1.1.0"},
        "phases": [
            {
                "id": "p1",
                "title": "Reports",
                "sections": [{"id": "s1", "title": "Reports", "items": items}],
            }
        ],
    }
    if defaults:
        document["defaults"] = defaults
    return yaml.safe_dump(document, sort_keys=False)


async def run_items(
    items: list[dict[str, Any]],
    *,
    now: datetime | None = NOW,
    base_dir: Path = DATA,
    env: Mapping[str, str] | None = None,
    **defaults: Any,
) -> dict[str, ItemResult]:
    """Load the items as a checklist beside ``base_dir`` and run it as of ``now``."""
    checklist = loads(
        checklist_text(items, **defaults), source=str(base_dir / "checklist.yaml"), env=dict(env or {})
    )
    if now is None:
        outcome = await run_checklist(checklist)
    else:
        at = now
        outcome = await run_checklist(checklist, now=lambda: at)
    return outcome.results


async def run_one(probe: Mapping[str, Any], **kwargs: Any) -> ItemResult:
    fields = {k: kwargs.pop(k) for k in ("conditions", "warn_conditions", "max_age") if k in kwargs}
    results = await run_items([item("report", probe, **fields)], **kwargs)
    return results["report"]
