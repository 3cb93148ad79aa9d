"""What the store hands back besides the records of :mod:`golive.checks`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from golive.checks.results import ItemResult
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
    #: The process that ran it (see ``Store.holder``), and the slot of a scheduled run.
    owner: str | None = None
    slot_at: datetime | None = None
    #: Where its message is in Slack, once posted.
    message_channel: str | None = None
    message_ts: str | None = None


@dataclass(frozen=True)
class Observation:
    """A stored result and the run that observed it."""

    run_id: int
    result: ItemResult


@dataclass(frozen=True)
class ChartPoint:
    """One item's observation in one run, as the charts draw it."""

    status: Status
    duration_ms: float
    #: The numeric observed values (``P95_MS``, ``ERROR_RATE`` …); other values are left out.
    values: Mapping[str, float]
    #: Where the evidence came from (a URL or file), to name a series shared by items.
    source: str | None = None


@dataclass(frozen=True)
class PhaseRun:
    """A finished run as one phase's charts see it: its items' points, by item id."""

    run_id: int
    at: datetime
    points: Mapping[str, ChartPoint]


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
    #: How often the last slot was started (a new leader re-runs an unfinished one).
    slot_attempt: int = 0
    #: When the last slot's run and its notifications were done; None while in flight.
    slot_done_at: datetime | None = None


@dataclass(frozen=True)
class LeaseState:
    """A lease as its backend (the database, or a Kubernetes Lease) last saw it.

    ``term`` counts the changes of holder (a fencing number: it grows each time the lease
    changes hands). ``expires_in`` is how long the lease stands unless its holder renews
    it, measured by the backend's clock, so replicas' clocks need not agree; a follower
    tries again when it has passed.
    """

    holder: str
    term: int
    expires_in: timedelta

    def held_by(self, holder: str) -> bool:
        return self.holder == holder and self.expires_in > timedelta(0)


@dataclass(frozen=True)
class PendingDeployment:
    id: int
    release_id: int
    forge: str
    delivery_id: str
    repository: str
    environment: str
    ref: str
    sha: str
    installation_id: int
    callback_url: str
    received_at: datetime
    answered_at: datetime | None = None
    state: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    release_id: int
    claim: str
    part: int
    #: Unique to this message; the post's metadata carries it.
    token: str
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    created_at: datetime
    #: Posts sent that Slack may have taken: above 0, the history is searched first.
    attempts: int
    posted_ts: str | None
    #: The lease the caller holds on it (see ``take_outbox``).
    leased_by: str | None = None
