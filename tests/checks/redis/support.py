"""Build a checklist around a few redis items, load it the real way and run it."""

from __future__ import annotations

from typing import Any

from golive.checks.results import ItemResult

from ..support import checklist_yaml, item
from ..support import run_one as run_item


def redis_probe(url: str, **config: Any) -> dict[str, Any]:
    return {"type": "redis", "url": url, **config}


async def run_one(
    probe: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    timeout: str = "5s",
    **fields: Any,
) -> ItemResult:
    return await run_item(probe, item_id="redis", env=env, timeout=timeout, **fields)


__all__ = ["checklist_yaml", "item", "redis_probe", "run_one"]
