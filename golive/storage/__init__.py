"""Storage: runs, results and what people recorded, in SQLite or PostgreSQL.

Knows nothing of Slack or of probes' internals; it stores the records that
:mod:`golive.checks` produces and hands them back. See :class:`Store`.

The records (:mod:`.entries`) and errors import nothing heavy; the :class:`Store` (and
SQLAlchemy with it) is imported on first use, so that a command reading a
:mod:`.snapshot` (`golive status`, `report`) or only naming a record's type does not pay
for SQLAlchemy's asynchronous ORM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .entries import (
    AlertState,
    AuditEntry,
    ChartPoint,
    LeaseState,
    Note,
    Observation,
    OutboxEntry,
    PendingDeployment,
    PhaseRun,
    RunInfo,
    ScheduleState,
)
from .errors import RunAborted, StorageError

if TYPE_CHECKING:
    from .store import Store


def __getattr__(name: str) -> Any:
    if name == "Store":
        from .store import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AlertState",
    "AuditEntry",
    "ChartPoint",
    "LeaseState",
    "Note",
    "Observation",
    "OutboxEntry",
    "PendingDeployment",
    "PhaseRun",
    "RunAborted",
    "RunInfo",
    "ScheduleState",
    "StorageError",
    "Store",
]
