"""The records that flow out of a run and back in: results, confirmations, waivers, sign-offs."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .conditions import ConditionOutcome
from .phrases import Phrase
from .probe import Evidence
from .status import Status


@dataclass(frozen=True)
class ItemResult:
    item_id: str
    #: The status that counts: staleness and waivers applied.
    status: Status
    #: The status from the probe and its conditions alone.
    raw_status: Status
    #: What counts, explained: the raw message plus why it is STALE or WAIVED.
    message: str
    duration_ms: float
    checked_at: datetime
    observed: Mapping[str, Any] = field(default_factory=dict)
    evidence: Evidence | None = None
    conditions: tuple[ConditionOutcome, ...] = ()
    #: The probe's own message, before staleness and waivers.
    raw_message: str = ""
    #: ``message`` as a catalogue phrase, where golive words it (a manual item awaiting
    #: confirmation, stale evidence, a waiver); not stored: decided again when read.
    phrase: Phrase | None = None


@dataclass(frozen=True)
class Confirmation:
    """A person confirmed a manual item, with a link to the evidence."""

    item_id: str
    user: str
    confirmed_at: datetime
    evidence_url: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Waiver:
    item_id: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime

    def active(self, now: datetime) -> bool:
        return self.created_at <= now < self.expires_at


@dataclass(frozen=True)
class SignoffRecord:
    role: str
    user: str
    signed_at: datetime
    run_id: int | None
    #: Status of each item at the moment of signing: what the role approved.
    approved: Mapping[str, Status]
    fingerprint: str
    revoked_at: datetime | None = None
    invalidated_at: datetime | None = None
    invalidated_reason: str | None = None
    revoked_by: str | None = None


@dataclass(frozen=True)
class Records:
    """What people recorded, as the runner and the verdict need it."""

    confirmations: tuple[Confirmation, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    signoffs: tuple[SignoffRecord, ...] = ()

    def confirmation(self, item_id: str) -> Confirmation | None:
        found = [c for c in self.confirmations if c.item_id == item_id]
        return max(found, key=lambda c: c.confirmed_at) if found else None

    def waiver(self, item_id: str, now: datetime) -> Waiver | None:
        found = [w for w in self.waivers if w.item_id == item_id and w.active(now)]
        return max(found, key=lambda w: w.expires_at) if found else None


def fingerprint(results: Mapping[str, ItemResult]) -> str:
    """A short, stable digest of a set of results: which item had which status."""
    text = "\n".join(f"{item_id}={results[item_id].status}" for item_id in sorted(results))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
