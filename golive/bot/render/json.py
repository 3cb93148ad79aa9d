"""The JSON documents of ``golive run --format json`` and ``golive status --format json``.

The shape is a contract (DESIGN.md): operators and tests parse it. Change it only by
adding fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...checks.model import Checklist, Item
from ...checks.probe import probe_kind
from ...checks.results import ItemResult
from ...checks.verdict import SignoffState
from ..state import State

FORMAT_VERSION = 1


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def item_document(
    checklist: Checklist, item: Item, result: ItemResult | None, run_id: int | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": item.id,
        "phase": item.phase,
        "section": item.section,
        "title": item.title,
        # Derived items (aggregates, rollback plan) are decided by the bot: "auto" to a reader.
        "kind": "manual" if probe_kind(item.probe_type) == "manual" else "auto",
        "probe": item.probe_type,
        "blocking": item.blocking,
        "owner": item.responsible,
        "status": str(result.status) if result else "NOT_RUN",
        "duration_ms": result.duration_ms if result else None,
        "message": result.message if result else "not run yet",
        "observed": dict(result.observed) if result else {},
        "checked_at": _time(result.checked_at) if result else None,
        # The run that observed the result; None for manual and derived items, which are
        # decided from what people recorded.
        "run_id": run_id,
        "evidence": None,
    }
    if result is not None and result.evidence is not None:
        document["evidence"] = {
            "source": result.evidence.source,
            "observed_at": _time(result.evidence.observed_at),
            "link": result.evidence.link,
        }
    if result is not None and result.status != result.raw_status:
        document["raw_status"] = str(result.raw_status)
    return document


def signoff_document(state: SignoffState) -> dict[str, Any]:
    record = state.record
    return {
        "id": state.role,
        "phase": "signoff",
        "section": "signoff",
        "title": state.title,
        "kind": "signoff",
        "status": "PASS" if state.holds else "PENDING",
        "holds": state.holds,
        "message": state.reason,
        "signed_by": record.user if record else None,
        "signed_at": _time(record.signed_at) if record else None,
        "run_id": record.run_id if record else None,
        "fingerprint": record.fingerprint if record else None,
        "duration_ms": None,
        "observed": {},
    }


def state_document(state: State) -> dict[str, Any]:
    """A run's own report when ``state.own_run`` is set (its id, times and results), else
    the release's current state (the newest run's id and times, each item's newest result)."""
    checklist = state.checklist
    run = state.run
    items = [
        item_document(checklist, item, state.result(item), state.observed_in.get(item.id))
        for item in checklist.items()
    ]
    signoffs = [signoff_document(s) for s in state.verdict.signoffs]
    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "run_id": run.id if run else None,
        "release": {"name": checklist.release.name, "version": checklist.release.version},
        "checklist": {"digest": checklist.digest},
        "started_at": _time(run.started_at if run else None),
        "finished_at": _time(run.finished_at if run else None),
        "evaluated_at": _time(state.at),
        "verdict": {
            "decision": state.verdict.decision,
            "go": state.verdict.go,
            "blockers": [
                {"subject": b.subject, "title": b.title, "status": b.status, "reason": b.reason}
                for b in state.verdict.blockers
            ],
        },
        "counts": _counts(items + signoffs),
        "items": items + signoffs,
        "signoffs": signoffs,
        "notes": [
            {"author": n.author, "text": n.text, "created_at": _time(n.created_at)} for n in state.notes
        ],
    }
    if state.own_run is not None:
        # Which results this run observed, and (a phase run) which come from earlier runs.
        document["results"] = {
            "this_run": state.from_this_run(),
            "earlier_runs": state.from_earlier_runs(),
        }
    return document


def _counts(items: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    return dict(sorted(counts.items()))
