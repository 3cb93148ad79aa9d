"""Build a checklist around registry items, load it the real way and run it."""

from __future__ import annotations

from typing import Any

from golive.checks.results import ItemResult

from ..support import checklist_yaml, item
from ..support import run_one as run_item


def registry(url: str, *images: str, **config: Any) -> dict[str, Any]:
    return {"type": "registry", "url": url, "images": list(images), **config}


async def run_one(probe: dict[str, Any], *, version: str = "1.1.0", **fields: Any) -> ItemResult:
    """Run one item. Secrets are read from the process environment (monkeypatch.setenv)."""
    return await run_item(probe, item_id="images", version=version, timeout="10s", **fields)


def mb(size: int) -> float:
    return round(size / 1_000_000, 3)


__all__ = ["checklist_yaml", "item", "mb", "registry", "run_one"]
