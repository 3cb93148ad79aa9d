"""Build a checklist around a few alertmanager items, load it the real way and run it."""

from __future__ import annotations

from ..support import checklist_yaml, item, run, run_one

__all__ = ["checklist_yaml", "item", "run", "run_one"]
