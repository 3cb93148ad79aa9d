"""Storage: runs, results and what people recorded, in SQLite or PostgreSQL.

Knows nothing of Slack or of probes' internals; it stores the records that
:mod:`golive.checks` produces and hands them back. See :class:`Store`.
"""

from .deployments import PendingDeployment
from .entries import (
    AlertState,
    AuditEntry,
    ChartPoint,
    LeaseState,
    Note,
    Observation,
    PhaseRun,
    RunInfo,
    ScheduleState,
)
from .errors import RunAborted, StorageError
from .outbox import OutboxEntry
from .store import Store

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
