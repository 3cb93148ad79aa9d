"""The pure half of every probe: from an observation and an item to a status.

No I/O here. The same functions settle stored results again at read time, so a status
report shows evidence that has gone stale and waivers that have expired since the run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .conditions import ConditionOutcome, observes_a_value
from .conditions import evaluate as evaluate_condition
from .durations import short_age
from .model import Checklist, Item
from .phrases import Phrase
from .probe import Evidence, Observation, ProbeType, probe_type
from .results import ItemResult, Records, Waiver
from .secrets import redact
from .status import Status


def evaluate_observation(
    item: Item,
    probe_type: ProbeType,
    observation: Observation,
    context_values: dict[str, Any],
) -> tuple[Status, str, tuple[ConditionOutcome, ...]]:
    values = {**context_values, **observation.values}
    units = probe_type.units()
    failures = [evaluate_condition(c, values, units) for c in item.parsed_conditions]
    warnings = [evaluate_condition(c, values, units) for c in item.parsed_warn_conditions]
    status = observation.status or Status.PASS
    failed = [o for o in failures if not o.passed]
    warned = [o for o in warnings if not o.passed]
    if failed:
        status = status.worst(Status.FAIL)
    elif warned:
        status = status.worst(Status.WARN)
    parts = [o.message for o in _explaining(failed, warned, item, values)]
    if observation.message and (status != Status.PASS or not parts):
        parts.insert(0, observation.message)
    if not parts:
        parts = [o.message for o in failures[:3]] or ["ok"]
    return status, "; ".join(parts), tuple(failures + warnings)


def _explaining(
    failed: list[ConditionOutcome], warned: list[ConditionOutcome], item: Item, values: Mapping[str, Any]
) -> list[ConditionOutcome]:
    """The unmet conditions a message lists. One over values that were not observed
    at all often fails only because another did (no replica streams, so there is no
    replay lag): while a condition over observed values explains the status, those are
    left out rather than shown as a second failure. The status does not change."""
    parsed = {c.text: c for c in (*item.parsed_conditions, *item.parsed_warn_conditions)}

    def observed(outcome: ConditionOutcome) -> bool:
        condition = parsed.get(outcome.condition)
        return condition is None or observes_a_value(condition, values)

    failed_observed = [o for o in failed if observed(o)]
    warned_observed = [o for o in warned if observed(o)]
    shown_failed = failed_observed or failed
    shown_warned = warned_observed if failed_observed or warned_observed else warned
    return shown_failed + shown_warned


def is_stale(evidence_time: datetime, max_age: timedelta | None, now: datetime) -> bool:
    return max_age is not None and now - evidence_time > max_age


def settle(result: ItemResult, max_age: timedelta | None, waiver: Waiver | None, now: datetime) -> ItemResult:
    """Apply staleness and waivers to a result's raw status, as of ``now``."""
    status = result.raw_status
    message = result.raw_message or result.message
    # The phrase of the raw message, when golive worded it (a manual item's).
    phrase: Phrase | str = (
        result.phrase if result.phrase is not None and message == result.message else message
    )
    evidence = result.evidence
    stale = evidence is not None and is_stale(evidence.observed_at, max_age, now)
    if evidence is not None and stale and status.severity < Status.STALE.severity:
        age = now - evidence.observed_at
        status = Status.STALE
        message = f"evidence is {short_age(age)} old, older than the {short_age(max_age)} allowed; {message}"
        phrase = Phrase.of("result_stale", age=short_age(age), limit=short_age(max_age), message=phrase)
    if waiver is not None and status != Status.PASS:
        until = f"{waiver.expires_at:%Y-%m-%d %H:%M}"
        message = (
            f"waived until {until} UTC by {waiver.created_by}: "
            f"{waiver.reason} (underlying: {status}: {message})"
        )
        phrase = Phrase.of(
            "result_waived",
            until=until,
            user=waiver.created_by,
            reason=waiver.reason,
            status=str(status),
            message=phrase,
        )
        status = Status.WAIVED
    if status == result.status and message == result.message:
        return result
    return replace(
        result, status=status, message=message, phrase=phrase if isinstance(phrase, Phrase) else None
    )


def context_values(checklist: Checklist) -> dict[str, Any]:
    """Values every condition may name, whatever the probe."""
    return {"RELEASE_VERSION": checklist.release.version, "RELEASE_NAME": checklist.release.name}


@dataclass(frozen=True)
class DerivedContext:
    """What a derived item decides from: every result known, and what people recorded."""

    checklist: Checklist
    results: Mapping[str, ItemResult]
    records: Records
    now: datetime


def manual_result(item: Item, records: Records, at: datetime) -> ItemResult:
    """A manual item's result from the latest confirmation: pure, so status reads it fresh."""
    confirmation = records.confirmation(item.id)
    if confirmation is None:
        who = f" by an approver of {item.responsible}" if item.responsible else ""
        raw = replace(
            make_result(item, Status.PENDING, f"awaiting confirmation{who}", 0.0, at),
            phrase=Phrase.of("result_awaiting_role", role=item.responsible)
            if item.responsible
            else Phrase.of("result_awaiting"),
        )
    else:
        link = confirmation.evidence_url
        detail = (f": {link}" if link else "") + (
            f" ({confirmation.comment})" if confirmation.comment else ""
        )
        text = f"confirmed by {confirmation.user}{detail}"
        raw = ItemResult(
            item_id=item.id,
            status=Status.PASS,
            raw_status=Status.PASS,
            message=text,
            raw_message=text,
            duration_ms=0.0,
            checked_at=at,
            observed={"CONFIRMED_BY": confirmation.user},
            evidence=Evidence(link or "confirmation", confirmation.confirmed_at, link),
            phrase=Phrase.of("result_confirmed", user=confirmation.user, detail=detail),
        )
    # A manual confirmation only expires where the item says so.
    return settle(raw, item.max_age, records.waiver(item.id, at), at)


def derived_result(item: Item, context: DerivedContext) -> ItemResult:
    """Aggregates, sign-off state and the rollback plan, decided from everything else."""
    kind = probe_type(item.probe_type)
    started = time.perf_counter()
    assert kind.derive is not None and item.config is not None
    observation: Observation = kind.derive(item.config, context)
    status, message, outcomes = evaluate_observation(
        item, kind, observation, context_values(context.checklist)
    )
    raw = ItemResult(
        item_id=item.id,
        status=status,
        raw_status=status,
        message=message,
        raw_message=message,
        duration_ms=milliseconds(started),
        checked_at=context.now,
        observed=dict(observation.values),
        evidence=observation.evidence,
        conditions=outcomes,
    )
    return settle(raw, None, context.records.waiver(item.id, context.now), context.now)


def make_result(
    item: Item,
    status: Status,
    message: str,
    duration_ms: float,
    at: datetime,
    *,
    temporary: bool = False,
    phrase: Phrase | None = None,
) -> ItemResult:
    """``phrase``: ``message`` as golive words it in the catalogue, where it does."""
    message = redact(message)
    observed = {"TEMPORARY": True} if temporary else {}
    return ItemResult(
        item.id, status, status, message, duration_ms, at, observed, raw_message=message, phrase=phrase
    )


def milliseconds(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
