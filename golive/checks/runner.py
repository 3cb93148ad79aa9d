"""Run a checklist's probes concurrently and turn observations into results.

- Bounded concurrency (``defaults.concurrency``) so a large checklist does not open a
  thousand sockets at once.
- Every probe is cut at its timeout; a probe that raises or hangs becomes ERROR for
  itself only.
- ``depends_on``: an item waits for its dependencies and is SKIPPED when one of them did
  not pass.
- Manual items take their status from confirmations; derived items (aggregates, sign-off
  state, the rollback plan) are decided last, from everything else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import NotConfigured, ProbeError
from .evaluate import evaluate_observation, settle
from .model import Checklist, Item
from .probe import Evidence, Observation, ProbeContext, probe_type
from .results import ItemResult, Records
from .secrets import redact
from .status import DEPENDENCY_OK, Status

NO_RECORDS = Records()
OnResult = Callable[[ItemResult], Awaitable[None]]


@dataclass(frozen=True)
class RunOutcome:
    started_at: datetime
    finished_at: datetime
    #: Results of the items this run decided, in checklist order.
    results: dict[str, ItemResult] = field(default_factory=dict)


@dataclass(frozen=True)
class DerivedContext:
    """What a derived item decides from: every result known, and what people recorded."""

    checklist: Checklist
    results: Mapping[str, ItemResult]
    records: Records
    now: datetime


def select_items(checklist: Checklist, phase: str | None) -> list[Item]:
    if phase is None:
        return checklist.items()
    try:
        chosen = checklist.phase(phase)
    except KeyError:
        known = ", ".join(p.id for p in checklist.phases)
        raise ValueError(f"no phase {phase!r} in the checklist; phases: {known}") from None
    return [item for section in chosen.sections for item in section.items]


async def run_checklist(
    checklist: Checklist,
    *,
    phase: str | None = None,
    records: Records = NO_RECORDS,
    previous: Mapping[str, ItemResult] | None = None,
    on_result: OnResult | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RunOutcome:
    """Run the selected items; ``previous`` holds the latest known results of the others."""
    started_at = now()
    selected = select_items(checklist, phase)
    previous = previous or {}
    semaphore = asyncio.Semaphore(checklist.defaults.concurrency)
    done: dict[str, asyncio.Future[ItemResult]] = {
        item.id: asyncio.get_running_loop().create_future() for item in selected
    }
    results: dict[str, ItemResult] = {}

    async def finish(item: Item, result: ItemResult) -> None:
        results[item.id] = result
        done[item.id].set_result(result)
        if on_result is not None:
            await on_result(result)

    async def run_one(item: Item) -> None:
        skipped = await _dependency_failure(item, done, previous)
        if skipped is not None:
            await finish(item, _result(item, Status.SKIPPED, skipped, 0.0, now()))
            return
        kind = probe_type(item.probe_type).kind
        if kind == "manual":
            result = _manual_result(checklist, item, records, now())
        else:
            async with semaphore:
                result = await _probe(checklist, item, records, now)
        await finish(item, result)

    ordinary = [i for i in selected if probe_type(i.probe_type).kind != "derived"]
    await asyncio.gather(*(run_one(item) for item in ordinary))

    for item in selected:
        if probe_type(item.probe_type).kind == "derived":
            context = DerivedContext(checklist, {**previous, **results}, records, now())
            await finish(item, _derived_result(checklist, item, context))

    ordered = {item.id: results[item.id] for item in selected}
    return RunOutcome(started_at, now(), ordered)


async def _dependency_failure(
    item: Item, done: Mapping[str, asyncio.Future[ItemResult]], previous: Mapping[str, ItemResult]
) -> str | None:
    for dependency in item.depends_on:
        if dependency in done:
            status = (await done[dependency]).status
        elif dependency in previous:
            status = previous[dependency].status
        else:
            return f"depends on {dependency}, which has not run yet"
        if status not in DEPENDENCY_OK:
            return f"depends on {dependency}, which is {status}"
    return None


def _context_values(checklist: Checklist) -> dict[str, Any]:
    return {"RELEASE_VERSION": checklist.release.version, "RELEASE_NAME": checklist.release.name}


async def _probe(
    checklist: Checklist, item: Item, records: Records, now: Callable[[], datetime]
) -> ItemResult:
    kind = probe_type(item.probe_type)
    timeout = checklist.timeout(item).total_seconds()
    started = time.perf_counter()
    checked_at = now()
    try:
        if item.config is None:
            raise NotConfigured(item.unset_variables)
        assert kind.gather is not None
        context = ProbeContext(
            release_name=checklist.release.name,
            release_version=checklist.release.version,
            base_dir=Path(checklist.source).parent if checklist.source else Path.cwd(),
            timeout=timeout,
            now=now,
        )
        async with asyncio.timeout(timeout):
            observation = await kind.gather(item.config, context)
    except TimeoutError:
        return _result(
            item,
            Status.ERROR,
            f"timed out after {timeout:g}s",
            _ms(started),
            checked_at,
            temporary=True,
        )
    except ProbeError as exc:
        return _result(item, Status.ERROR, exc.message, _ms(started), checked_at, temporary=exc.temporary)
    except Exception as exc:  # a broken probe must not take the run down with it
        return _result(
            item, Status.ERROR, f"probe failed: {type(exc).__name__}: {exc}", _ms(started), checked_at
        )
    duration = _ms(started)
    status, message, outcomes = evaluate_observation(item, kind, observation, _context_values(checklist))
    raw = ItemResult(
        item_id=item.id,
        status=status,
        raw_status=status,
        message=redact(message),
        raw_message=redact(message),
        duration_ms=duration,
        checked_at=checked_at,
        observed=redact(dict(observation.values)),
        evidence=_redacted_evidence(observation.evidence),
        conditions=outcomes,
    )
    return settle(raw, checklist.max_age(item), records.waiver(item.id, checked_at), checked_at)


def _manual_result(checklist: Checklist, item: Item, records: Records, at: datetime) -> ItemResult:
    confirmation = records.confirmation(item.id)
    if confirmation is None:
        who = f" by an approver of {item.responsible}" if item.responsible else ""
        raw = _result(item, Status.PENDING, f"awaiting confirmation{who}", 0.0, at)
    else:
        link = confirmation.evidence_url
        text = f"confirmed by {confirmation.user}" + (f": {link}" if link else "")
        if confirmation.comment:
            text += f" ({confirmation.comment})"
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
        )
    # A manual confirmation only expires where the item says so.
    return settle(raw, item.max_age, records.waiver(item.id, at), at)


def _derived_result(checklist: Checklist, item: Item, context: DerivedContext) -> ItemResult:
    kind = probe_type(item.probe_type)
    started = time.perf_counter()
    assert kind.derive is not None and item.config is not None
    observation: Observation = kind.derive(item.config, context)
    status, message, outcomes = evaluate_observation(item, kind, observation, _context_values(checklist))
    raw = ItemResult(
        item_id=item.id,
        status=status,
        raw_status=status,
        message=message,
        raw_message=message,
        duration_ms=_ms(started),
        checked_at=context.now,
        observed=dict(observation.values),
        evidence=observation.evidence,
        conditions=outcomes,
    )
    return settle(raw, None, context.records.waiver(item.id, context.now), context.now)


def _result(
    item: Item, status: Status, message: str, duration_ms: float, at: datetime, *, temporary: bool = False
) -> ItemResult:
    message = redact(message)
    observed = {"TEMPORARY": True} if temporary else {}
    return ItemResult(item.id, status, status, message, duration_ms, at, observed, raw_message=message)


def _redacted_evidence(evidence: Evidence) -> Evidence:
    return Evidence(redact(evidence.source), evidence.observed_at, redact(evidence.link))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
