"""Run a checklist's probes concurrently and turn observations into results.

- Bounded concurrency (``defaults.concurrency``) so a large checklist does not open a
  thousand sockets at once.
- Every probe is cut at its timeout; a probe that raises or hangs becomes ERROR for
  itself only.
- A :class:`~golive.checks.errors.TemporaryProbeError` is tried again (after
  :data:`RETRY_DELAYS`) while another attempt fits in the item's timeout budget; the last
  one counts, stored with ``TEMPORARY``.
- ``depends_on``: an item waits for its dependencies and is SKIPPED when one of them did
  not pass. Its probe still runs, so the skip shows the item's own observed values.
- Manual items take their status from confirmations; derived items (aggregates, sign-off
  state, the rollback plan) are decided last, from everything else.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import NotConfigured, ProbeError, TemporaryProbeError
from .evaluate import (
    DerivedContext,
    context_values,
    derived_result,
    evaluate_observation,
    make_result,
    manual_result,
    milliseconds,
    settle,
)
from .model import Checklist, Item
from .phrases import Phrase
from .probe import (
    Evidence,
    Gather,
    Observation,
    ProbeConfig,
    ProbeContext,
    RunShared,
    probe_kind,
    probe_type,
    run_shared,
)
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
    await _load_clients(selected)
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

    async def run_one(item: Item, shared: RunShared) -> None:
        skipped = await _dependency_failure(item, done, previous)
        kind = probe_kind(item.probe_type)
        if skipped is not None:
            reason, phrase = skipped
            result = make_result(item, Status.SKIPPED, reason, 0.0, now(), phrase=phrase)
            if kind != "manual":
                # Still probed: a skip must not hide a value that was there to see.
                async with semaphore:
                    own = await _probe(checklist, item, records, now, shared)
                    result = with_own_observation(result, own)
            await finish(item, result)
            return
        if kind == "manual":
            result = manual_result(item, records, now())
        else:
            async with semaphore:
                result = await _probe(checklist, item, records, now, shared)
        await finish(item, result)

    ordinary = [i for i in selected if probe_kind(i.probe_type) != "derived"]
    async with run_shared() as shared:  # connection pools, closed when the probes are done
        await asyncio.gather(*(run_one(item, shared) for item in ordinary))

    for item in selected:
        if probe_kind(item.probe_type) == "derived":
            context = DerivedContext(checklist, {**previous, **results}, records, now())
            await finish(item, derived_result(item, context))

    ordered = {item.id: results[item.id] for item in selected}
    return RunOutcome(started_at, now(), ordered)


async def _load_clients(items: Iterable[Item]) -> None:
    """Import the probes' client libraries (see ``ProbeConfig.load_client``) in a thread,
    before the first probe starts its clock."""
    models = {type(item.config) for item in items if item.config is not None}
    # Most probe types have nothing to load: no thread for them.
    loading = [m for m in models if any("load_client" in vars(c) for c in m.__mro__ if c is not ProbeConfig)]
    if loading:
        await asyncio.to_thread(lambda: [model.load_client() for model in loading])


def with_own_observation(skipped: ItemResult, own: ItemResult) -> ItemResult:
    """A SKIPPED result that also shows what the item observed itself, when its probe
    observed anything: the status stays SKIPPED, the dependency decides that."""
    observed = {k: v for k, v in own.observed.items() if k != "TEMPORARY"}
    if not observed:
        return skipped  # the probe could not observe: the dependency alone explains it
    phrase = Phrase.of(
        "result_dependency_own",
        reason=skipped.phrase or skipped.message,
        status=str(own.raw_status),
        message=own.raw_message or own.message,
    )
    message = f"{skipped.message}; on its own: {own.raw_status}, {own.raw_message or own.message}"
    return replace(
        skipped,
        message=message,
        raw_message=message,
        phrase=phrase,
        duration_ms=own.duration_ms,
        checked_at=own.checked_at,
        observed=own.observed,
        evidence=own.evidence,
    )


#: Seconds to wait before the second and the third attempt after a temporary error.
RETRY_DELAYS = (0.5, 1.0)


async def _gather_retrying(gather: Gather, config: Any, context: ProbeContext) -> Observation:
    """``gather``, tried again after a temporary error while the wait and another attempt
    as long as the last one still fit in the budget (``context.timeout``): a target that
    blinks is not an ERROR, one that stays down is reported as soon as that is clear."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + context.timeout
    for delay in (*RETRY_DELAYS, None):
        started = loop.time()
        try:
            return await gather(config, context)
        except TemporaryProbeError:
            took = loop.time() - started
            if delay is None or loop.time() + delay + took >= deadline:
                raise
        await asyncio.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _dependency_failure(
    item: Item, done: Mapping[str, asyncio.Future[ItemResult]], previous: Mapping[str, ItemResult]
) -> tuple[str, Phrase] | None:
    """Why the item is skipped, in English (what logs, JSON and the database keep) and as
    the catalogue's phrase (what a surface shows in the checklist's language)."""
    for dependency in item.depends_on:
        if dependency in done:
            status = (await done[dependency]).status
        elif dependency in previous:
            status = previous[dependency].status
        else:
            reason = f"depends on {dependency}, which has not run yet"
            return reason, Phrase.of("result_dependency_not_run", item=dependency)
        if status not in DEPENDENCY_OK:
            reason = f"depends on {dependency}, which is {status}"
            return reason, Phrase.of("result_dependency_failed", item=dependency, status=str(status))
    return None


async def _probe(
    checklist: Checklist,
    item: Item,
    records: Records,
    now: Callable[[], datetime],
    shared: RunShared | None = None,
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
            allowed_hosts=checklist.allowed_hosts,
            shared=shared,
        )
        async with asyncio.timeout(timeout):
            observation = await _gather_retrying(kind.gather, item.config, context)
    except TimeoutError:
        timed_out = Phrase.of("result_timed_out", seconds=f"{timeout:g}")
        return make_result(
            item,
            Status.ERROR,
            f"timed out after {timeout:g}s",
            milliseconds(started),
            checked_at,
            temporary=True,
            phrase=timed_out,
        )
    except ProbeError as exc:
        # Only the plain "set these variables": a subclass words more than the phrase says.
        unset = exc.variables if type(exc) is NotConfigured else ()
        return make_result(
            item,
            Status.ERROR,
            exc.message,
            milliseconds(started),
            checked_at,
            temporary=isinstance(exc, TemporaryProbeError),
            phrase=Phrase.of("result_not_configured", variables=", ".join(unset)) if unset else None,
        )
    except Exception as exc:  # a broken probe must not take the run down with it
        return make_result(
            item,
            Status.ERROR,
            f"probe failed: {type(exc).__name__}: {exc}",
            milliseconds(started),
            checked_at,
        )
    duration = milliseconds(started)
    status, message, outcomes = evaluate_observation(item, kind, observation, context_values(checklist))
    raw = ItemResult(
        item_id=item.id,
        status=status,
        raw_status=status,
        message=redact(message),
        raw_message=redact(message),
        duration_ms=duration,
        checked_at=checked_at,
        observed=cap_observed(redact(dict(observation.values))),
        evidence=_redacted_evidence(observation.evidence),
        conditions=tuple(replace(o, message=redact(o.message)) for o in outcomes),
    )
    return settle(raw, checklist.max_age(item), records.waiver(item.id, checked_at), checked_at)


#: Observed values are evidence, not archives: a value larger than this is stored as a note.
MAX_STORED_VALUE = 64 * 1024


def cap_observed(values: dict[str, Any]) -> dict[str, Any]:
    """Keep stored results small; conditions have already seen the full values."""
    capped: dict[str, Any] = {}
    for name, value in values.items():
        size = len(json.dumps(value, default=str))
        if size <= MAX_STORED_VALUE:
            capped[name] = value
        elif isinstance(value, str):
            capped[name] = value[:MAX_STORED_VALUE] + f"… [{size} characters, cut for storage]"
        else:
            capped[name] = f"[{size} bytes of JSON, not stored]"
    return capped


def _redacted_evidence(evidence: Evidence) -> Evidence:
    return Evidence(redact(evidence.source), evidence.observed_at, redact(evidence.link))
