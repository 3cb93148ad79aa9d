"""What the store hands back besides the records of :mod:`golive.checks`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from golive.checks.status import Status

RunStatus = Literal["running", "complete", "aborted"]


@dataclass(frozen=True)
class RunInfo:
    id: int
    release_id: int
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    trigger: str
    phase: str | None
    verdict: str | None
    fingerprint: str | None
    #: Digest of the checklist the run used: tells whether two runs are comparable.
    checklist_digest: str = ""


@dataclass(frozen=True)
class Note:
    id: int
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]


@dataclass(frozen=True)
class AlertState:
    """Where an item stands for regression alerts: what was last announced, and when."""

    item_id: str
    state: str
    since: datetime
    last_notified_at: datetime | None = None
    last_status: Status | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduleState:
    """Whether the schedule is paused (by whom, when), and the last slot it ran."""

    paused: bool = False
    changed_by: str | None = None
    changed_at: datetime | None = None
    last_slot_at: datetime | None = None
    last_run_id: int | None = None
