"""Which schema revision is the newest, read from the revision files themselves: without
Alembic (whose import costs a second) and without SQLAlchemy, for the Store's check at
open and a :mod:`.snapshot`'s."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"

_REVISION = re.compile(r"^revision(?:\s*:[^=]+)?\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=]+)?\s*=\s*(.+)$", re.MULTILINE)


@cache
def head_revisions() -> frozenset[str]:
    """The revisions no other revision builds on, read from the revision files as Alembic
    would find them (``revision`` and ``down_revision``), without importing Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        down = _DOWN_REVISION.search(source)
        if revision is None or down is None:
            continue  # not a revision file
        revisions.add(revision[1])
        parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down[1]))
    return frozenset(revisions - parents)
