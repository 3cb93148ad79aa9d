"""Stored rows into the records golive works with, whoever read them.

A row is any object with the table's columns as attributes, their values already the
Python types the Store's models give (aware UTC times, decoded JSON): an ORM row of the
:class:`~golive.storage.store.Store`, or a plain row of a :mod:`.snapshot`. One reading
for both, so `golive status` over a snapshot shows what the Store would.
"""

from __future__ import annotations

from typing import Any, cast

from golive.checks.results import Confirmation, ItemResult, Records, SignoffRecord, Waiver
from golive.checks.status import Status

from .codec import decode_approved, decode_conditions, decode_evidence, decode_observed, decode_phrase
from .entries import Note, RunInfo, RunStatus


def item_result(row: Any) -> ItemResult:
    """A ``results`` row."""
    return ItemResult(
        item_id=row.item_id,
        status=Status(row.status),
        raw_status=Status(row.raw_status),
        message=row.message,
        duration_ms=row.duration_ms,
        checked_at=row.checked_at,
        observed=decode_observed(row.observed),
        evidence=decode_evidence(row.evidence),
        conditions=decode_conditions(row.conditions),
        raw_message=row.raw_message,
        phrase=decode_phrase(row.phrase),
    )


def run_info(row: Any) -> RunInfo:
    """A ``runs`` row."""
    return RunInfo(
        id=row.id,
        release_id=row.release_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=cast(RunStatus, row.status),
        trigger=row.trigger,
        phase=row.phase,
        verdict=row.verdict,
        fingerprint=row.fingerprint,
        checklist_digest=row.checklist_digest,
        owner=row.owner,
        slot_at=row.slot_at,
        message_channel=row.message_channel,
        message_ts=row.message_ts,
    )


def signoff_record(row: Any) -> SignoffRecord:
    """A ``signoffs`` row."""
    return SignoffRecord(
        role=row.role,
        user=row.user,
        signed_at=row.signed_at,
        run_id=row.run_id,
        approved=decode_approved(row.approved),
        fingerprint=row.fingerprint,
        revoked_at=row.revoked_at,
        invalidated_at=row.invalidated_at,
        invalidated_reason=row.invalidated_reason,
        revoked_by=row.revoked_by,
    )


def records(confirmations: Any, waivers: Any, signoffs: Any) -> Records:
    """Standing confirmations and waivers and every sign-off, from their rows."""
    return Records(
        confirmations=tuple(
            Confirmation(
                item_id=c.item_id,
                user=c.user,
                confirmed_at=c.confirmed_at,
                evidence_url=c.evidence_url,
                comment=c.comment,
            )
            for c in confirmations
        ),
        waivers=tuple(
            Waiver(
                item_id=w.item_id,
                reason=w.reason,
                created_by=w.created_by,
                created_at=w.created_at,
                expires_at=w.expires_at,
            )
            for w in waivers
        ),
        signoffs=tuple(signoff_record(s) for s in signoffs),
    )


def note(row: Any) -> Note:
    """A ``notes`` row."""
    return Note(row.id, row.author, row.text, row.created_at)
