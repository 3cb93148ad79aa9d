"""Real plugin scripts in a temporary folder, and a checklist around them."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from golive.checks.loader import loads
from golive.checks.results import ItemResult
from golive.checks.runner import run_checklist


def write_plugin(directory: Path, name: str, body: str, *, executable: bool = True) -> Path:
    """A Python script run through its #! line, like any installed monitoring plugin."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{textwrap.dedent(body)}", encoding="utf-8")
    path.chmod(0o755 if executable else 0o644)
    return path


def checklist_yaml(*items: dict[str, Any]) -> str:
    return yaml.safe_dump(
        {
            "release": {"name": "VALEO-NeuroERP", "version": "1.1.0"},
            "defaults": {"timeout": "10s"},
            "phases": [
                {
                    "id": "p5",
                    "title": "Monitoring",
                    "sections": [{"id": "plugins", "title": "Plugins", "items": list(items)}],
                }
            ],
        }
    )


def item(item_id: str, argv: list[str], **fields: Any) -> dict[str, Any]:
    probe = {"type": "command", "argv": argv, **fields.pop("probe", {})}
    return {"id": item_id, "title": f"Plugin {item_id}", "probe": probe, **fields}


async def run(base_dir: Path, *items: dict[str, Any]) -> dict[str, ItemResult]:
    """Load as if the checklist lived in ``base_dir`` (relative paths resolve there)."""
    checklist = loads(checklist_yaml(*items), source=str(base_dir / "checklist.yaml"), env={})
    return dict((await run_checklist(checklist)).results)
