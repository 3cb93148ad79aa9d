"""The verdict document deploy tools read: ``golive status --format json``'s document.

One shape for the CLI and the API (``schema/state.schema.json``). Asked for one phase,
the document is the same with the items, sign-offs and blockers of that phase only, and
``go`` says whether that phase stands clear of blockers: a pipeline stage gated on the
``pre`` phase need not wait for the sign-offs of the release.

The ETag is a digest of the document without its ``evaluated_at``: it changes when
anything a reader acts on changes, not on every evaluation, so pollers sending
``If-None-Match`` are answered 304 without a body.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ...checks.verdict import current_results, decide
from ...storage import Store
from ..core import usecases
from ..render import json as render_json
from ..state import State

#: Fields that change on every evaluation without changing what a reader acts on.
VOLATILE = ("evaluated_at",)


class UnknownPhase(ValueError):
    pass


async def verdict_document(
    store: Store,
    *,
    phase: str | None = None,
    now: Callable[[], datetime] = usecases.utcnow,
) -> dict[str, Any]:
    """The release's current state, of the checklist the newest run used.
    ``UserError`` when nothing is stored yet; UnknownPhase names the phases."""
    checklist = await usecases.stored_checklist(store)
    state = await usecases.current_state(checklist, store, now=now)
    document = render_json.state_document(state)
    if phase is None:
        return document
    phases = [p.id for p in checklist.phases]
    if phase not in phases:
        raise UnknownPhase(f"no phase {phase!r}; phases: {', '.join(phases)}")
    return phase_document(document, phase)


def phase_document(document: dict[str, Any], phase: str) -> dict[str, Any]:
    """``document`` narrowed to one phase: its items, and GO when none of them blocks."""
    items = [i for i in document["items"] if i["phase"] == phase]
    ids = {i["id"] for i in items}
    blockers = [b for b in document["verdict"]["blockers"] if b["subject"] in ids]
    counts: dict[str, int] = {}
    for item in items:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    narrowed = dict(document)
    narrowed["phase"] = phase
    narrowed["items"] = items
    narrowed["counts"] = dict(sorted(counts.items()))
    narrowed["verdict"] = {
        "decision": "GO" if not blockers else "NO-GO",
        "go": not blockers,
        "blockers": blockers,
    }
    return narrowed


async def run_document(
    store: Store, run_id: int, *, now: Callable[[], datetime] = usecases.utcnow
) -> dict[str, Any] | None:
    """A run's own results, decided on what people recorded, as of the run's finish
    (or now, while it runs). None when there is no such run."""
    run = await store.run(run_id)
    if run is None:
        return None
    checklist = await usecases.stored_checklist(store, run_id=run_id)
    records = await store.records(run.release_id)
    observed = await store.run_results(run_id)
    at = run.finished_at or now()
    results = current_results(checklist, observed, records, at)
    state = State(
        checklist=checklist,
        release_id=run.release_id,
        run=run,
        results=results,
        records=records,
        verdict=decide(checklist, results, records, at),
        notes=await store.notes(run.release_id),
        at=at,
        observed_in={item_id: run_id for item_id in observed},
        own_run=run_id,
    )
    return render_json.state_document(state)


def etag(document: dict[str, Any]) -> str:
    """A strong ETag of what the document says (``VOLATILE`` fields aside)."""
    stable = {k: v for k, v in document.items() if k not in VOLATILE}
    body = json.dumps(stable, sort_keys=True, default=str, ensure_ascii=False)
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (a list, ``*`` or weak tags too)."""
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or tag in candidates
