"""The pure half of every probe: from an observation and an item to a status.

No I/O here. The same functions settle stored results again at read time, so a status
report shows evidence that has gone stale and waivers that have expired since the run.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from .conditions import ConditionOutcome
from .conditions import evaluate as evaluate_condition
from .model import Item
from .probe import Observation, ProbeType
from .results import ItemResult, Waiver
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
    parts = [o.message for o in failed + warned]
    if observation.message and (status != Status.PASS or not parts):
        parts.insert(0, observation.message)
    if not parts:
        parts = [o.message for o in failures[:3]] or ["ok"]
    return status, "; ".join(parts), tuple(failures + warnings)


def is_stale(evidence_time: datetime, max_age: timedelta | None, now: datetime) -> bool:
    return max_age is not None and now - evidence_time > max_age


def settle(result: ItemResult, max_age: timedelta | None, waiver: Waiver | None, now: datetime) -> ItemResult:
    """Apply staleness and waivers to a result's raw status, as of ``now``."""
    status = result.raw_status
    message = result.raw_message or result.message
    evidence = result.evidence
    stale = evidence is not None and is_stale(evidence.observed_at, max_age, now)
    if evidence is not None and stale and status.severity < Status.STALE.severity:
        age = now - evidence.observed_at
        status = Status.STALE
        message = f"evidence is {_age(age)} old, older than the {_age(max_age)} allowed; {message}"
    if waiver is not None and status != Status.PASS:
        message = (
            f"waived until {waiver.expires_at:%Y-%m-%d %H:%M} UTC by {waiver.created_by}: "
            f"{waiver.reason} (underlying: {status}: {message})"
        )
        status = Status.WAIVED
    if status == result.status and message == result.message:
        return result
    return replace(result, status=status, message=message)


def _age(delta: timedelta | None) -> str:
    if delta is None:
        return "?"
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"
