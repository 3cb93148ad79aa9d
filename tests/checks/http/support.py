"""Build a checklist around a few items, load it the real way and run it."""

from __future__ import annotations

from ..support import checklist_yaml, item, run

__all__ = ["checklist_yaml", "item", "run"]
