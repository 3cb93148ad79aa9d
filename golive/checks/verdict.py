"""GO or NO-GO, as a pure function of results, sign-offs and time.

GO iff every blocking item is PASS or WAIVED (WARN where the item allows it), no evidence
is stale, and every sign-off role holds. A sign-off holds when it is not revoked, not
expired, and no item the role owns has regressed since the run it approved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .evaluate import DerivedContext, derived_result, manual_result, settle
from .model import Checklist, Item
from .phrases import Phrase
from .probe import probe_kind
from .results import ItemResult, Records, SignoffRecord
from .status import Status

_OK = frozenset({Status.PASS, Status.WAIVED})
#: The status of a blocking item without a result (not one of :class:`Status`).
NOT_RUN = "NOT RUN"
#: How a sign-off invalidated by a regression is explained in storage, before the items.
REGRESSED = "regressed since signed: "


@dataclass(frozen=True)
class Blocker:
    subject: str  # an item id, or "signoff:<role>"
    title: str
    status: str
    reason: str
    #: ``reason`` as a catalogue phrase, where golive words it (not a probe's message).
    phrase: Phrase | None = None


@dataclass(frozen=True)
class SignoffState:
    role: str
    title: str
    holds: bool
    reason: str
    record: SignoffRecord | None
    #: ``reason`` as a catalogue phrase.
    phrase: Phrase | None = None


@dataclass(frozen=True)
class Verdict:
    go: bool
    blockers: tuple[Blocker, ...]
    signoffs: tuple[SignoffState, ...]

    @property
    def decision(self) -> str:
        return "GO" if self.go else "NO-GO"


def item_ok(item: Item, status: Status) -> bool:
    return status in _OK or (status == Status.WARN and item.allow_warn)


def evidence_max_age(checklist: Checklist, item: Item) -> timedelta | None:
    """How old an item's evidence may be: derived items have none of their own, and a
    manual confirmation expires only where the item says so."""
    kind = probe_kind(item.probe_type)
    if kind == "derived":
        return None
    if kind == "manual":
        return item.max_age
    return checklist.max_age(item)


def current_results(
    checklist: Checklist, stored: Mapping[str, ItemResult], records: Records, now: datetime
) -> dict[str, ItemResult]:
    """The results as of ``now``: stored probe results settled again (evidence may have gone
    stale, waivers expired), manual items from the latest confirmations, and derived items
    decided afresh from those (a sign-off given since the run counts at once)."""
    settled: dict[str, ItemResult] = {}
    derived = []
    for item in checklist.items():
        kind = probe_kind(item.probe_type)
        if kind == "manual":
            settled[item.id] = manual_result(item, records, now)
        elif kind == "derived":
            derived.append(item)
        elif (result := stored.get(item.id)) is not None:
            settled[item.id] = settle(
                result, evidence_max_age(checklist, item), records.waiver(item.id, now), now
            )
    context = DerivedContext(checklist, dict(settled), records, now)
    for item in derived:
        settled[item.id] = derived_result(item, context)
    return settled


def signoff_states(
    checklist: Checklist, results: Mapping[str, ItemResult], signoffs: Sequence[SignoffRecord], now: datetime
) -> tuple[SignoffState, ...]:
    states = []
    for role in checklist.signoffs:
        mine = [s for s in signoffs if s.role == role.id and s.revoked_at is None]
        record = max(mine, key=lambda s: s.signed_at) if mine else None
        if record is None:
            states.append(
                SignoffState(role.id, role.title, False, "not signed", None, Phrase.of("signoff_not_signed"))
            )
            continue
        broken = _broken(checklist, role.id, record, results, now)
        if broken is None and role.max_age is not None and now - record.signed_at > role.max_age:
            at = f"{record.signed_at:%Y-%m-%d %H:%M}"
            broken = (
                f"signed {at} UTC, older than {role.max_age} allowed",
                Phrase.of("signoff_too_old", at=at, limit=str(role.max_age)),
            )
        if broken is None:
            reason, phrase = f"signed by {record.user}", Phrase.of("signoff_signed_by", user=record.user)
        else:
            reason, phrase = broken
        states.append(SignoffState(role.id, role.title, broken is None, reason, record, phrase))
    return tuple(states)


def regressions(
    checklist: Checklist, role: str, record: SignoffRecord, results: Mapping[str, ItemResult]
) -> list[str]:
    """Items the role owns that were fine when it signed and are not fine now."""
    found = []
    for item in checklist.items():
        if item.responsible != role or item.id not in record.approved:
            continue
        before = record.approved[item.id]
        now_result = results.get(item.id)
        if now_result is None:
            continue
        if item_ok(item, before) and not item_ok(item, now_result.status):
            found.append(f"{item.id} ({before} → {now_result.status})")
    return found


def _broken(
    checklist: Checklist,
    role: str,
    record: SignoffRecord,
    results: Mapping[str, ItemResult],
    now: datetime,
) -> tuple[str, Phrase] | None:
    if record.invalidated_at is not None:
        stored = record.invalidated_reason or ""
        if stored.startswith(REGRESSED):
            items = stored.removeprefix(REGRESSED)
            return f"invalidated: {stored}", Phrase.of("signoff_regressed", items=items)
        if stored:
            return f"invalidated: {stored}", Phrase.of("signoff_invalidated_because", reason=stored)
        return "invalidated: a check regressed", Phrase.of("signoff_invalidated_plain")
    regressed = regressions(checklist, role, record, results)
    if regressed:
        items = ", ".join(regressed)
        return f"invalidated: {REGRESSED}{items}", Phrase.of("signoff_regressed", items=items)
    return None


def decide(
    checklist: Checklist, results: Mapping[str, ItemResult], records: Records, now: datetime
) -> Verdict:
    blockers: list[Blocker] = []
    for item in checklist.items():
        if not item.blocking:
            continue
        result = results.get(item.id)
        if result is None:
            blockers.append(
                Blocker(
                    item.id,
                    item.title,
                    NOT_RUN,
                    "no result yet: run the checklist",
                    Phrase.of("blocker_not_run"),
                )
            )
        elif not item_ok(item, result.status):
            blockers.append(Blocker(item.id, item.title, str(result.status), result.message, result.phrase))
    states = signoff_states(checklist, results, records.signoffs, now)
    for state in states:
        if not state.holds:
            blockers.append(
                Blocker(f"signoff:{state.role}", state.title, "PENDING", state.reason, state.phrase)
            )
    return Verdict(not blockers, tuple(blockers), states)
