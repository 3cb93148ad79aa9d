"""Regression alerts and rollback triggers, decided without I/O.

After each run, every item that ran gets a decision from its recent statuses and its
stored alert state: post something (an alert, a reminder, "resolved") or not, and the
state to store. :mod:`golive.bot.core.notify` reads and writes the state and posts.

Tiers. PASS and WAIVED are fine; WARN is *degraded* (a quieter alert: no mentions, no
reminders), and so is a failing item that does not block GO; FAIL, ERROR and STALE
evidence are *failing*. PENDING and SKIPPED say nothing new (a skipped item's dependency
alerts for it), so they change nothing.

States, as stored:

- ``ok``: fine when last decided;
- ``broken``: not fine, but never fine while watched: no alert (it did not *regress*;
  the NO-GO verdict already lists it). It becomes ``ok`` silently once it passes;
- ``degraded`` / ``failing``: that alert was posted; a reminder of a failing item follows
  every ``reminder`` while it stays failing; "resolved" is posted when it recovers.

Flap control: an item alerts only when it failed in ``fail_threshold`` of its last
``window`` runs, and is resolved only once it no longer does, so an item that passes
every other run neither alerts nor resolves on each run.

A single temporary error (the probe's target did not answer within the item's timeout
budget, after the runner's retries: ``TEMPORARY`` in the observed values) is no alert on
its own: it changes nothing until the next run says whether it stays.

Silences and maintenance windows hold everything back: the state stays as it was, so an
item still failing when the silence ends is alerted then, and one that failed and
recovered within it is never mentioned.

Every post carries a claim key (``Store.claim_notification``) derived from the state it
leaves, not from the run that noticed it: two processes, or a process restarted between
posting and storing the state, compute the same key and only one posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from ...checks.model import Alerts, Item
from ...checks.status import Status
from ...storage import AlertState
from ..state import Post, PostKind

OK, BROKEN, DEGRADED, FAILING = "ok", "broken", "degraded", "failing"


class Tier(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"


_FINE = frozenset({Status.PASS, Status.WAIVED})
_FAILING = frozenset({Status.FAIL, Status.ERROR, Status.STALE})


def tier_of(item: Item, status: Status) -> Tier | None:
    if status in _FINE:
        return Tier.OK
    if status == Status.WARN:
        return Tier.DEGRADED
    if status in _FAILING:
        return Tier.FAILING if item.blocking else Tier.DEGRADED
    return None


@dataclass(frozen=True)
class AlertDecision:
    #: The state to store; the previous one when nothing changed (None: nothing known).
    state: AlertState | None
    post: Post | None = None
    #: What a silence or maintenance window held back, for the log.
    held_back: Post | None = None


def decide(
    item: Item,
    history: Sequence[Status],
    previous: AlertState | None,
    *,
    now: datetime,
    reminder: timedelta | None,
    silenced: bool = False,
    temporary: bool = False,
) -> AlertDecision:
    """``history``: the item's statuses in its latest runs, newest (this run's) first.
    ``temporary``: this run's result is a temporary probe error."""
    if not history:
        return AlertDecision(previous)
    if temporary and history[0] == Status.ERROR and not _failed_before(item, history):
        return AlertDecision(previous)
    tier = tier_of(item, history[0])
    if tier is None:
        return AlertDecision(previous)
    if previous is None:
        return AlertDecision(_state(item, OK if tier is Tier.OK else BROKEN, now, history[0]))
    counted = [tier_of(item, status) for status in history[: item.alert.window]]
    failing = sum(t is Tier.FAILING for t in counted) >= item.alert.fail_threshold
    bad = sum(t in (Tier.FAILING, Tier.DEGRADED) for t in counted) >= item.alert.fail_threshold
    decision = _transition(item, previous, tier, failing, bad, history[0], now, reminder)
    if decision.post is not None and silenced:
        return AlertDecision(previous, held_back=decision.post)
    return decision


def _failed_before(item: Item, history: Sequence[Status]) -> bool:
    return len(history) > 1 and tier_of(item, history[1]) is Tier.FAILING


def _transition(
    item: Item,
    previous: AlertState,
    tier: Tier,
    failing: bool,
    bad: bool,
    status: Status,
    now: datetime,
    reminder: timedelta | None,
) -> AlertDecision:
    def to(state: str, kind: PostKind | None = None) -> AlertDecision:
        if kind is None:
            return AlertDecision(_state(item, state, now, status))
        since = previous.since if kind == "resolved" else now
        post = Post(kind, claim_key(item.id, kind, previous.since), since)
        return AlertDecision(_state(item, state, now, status, notified=True), post)

    if previous.state == BROKEN:
        return to(OK) if tier is Tier.OK else AlertDecision(previous)
    if previous.state == OK:
        if tier is Tier.FAILING and failing:
            return to(FAILING, "failing")
        if tier is not Tier.OK and bad:
            return to(DEGRADED, "degraded")
        return AlertDecision(previous)
    if previous.state == DEGRADED:
        if tier is Tier.FAILING and failing:
            return to(FAILING, "failing")
        if tier is Tier.OK and not bad:
            return to(OK, "resolved")
        return AlertDecision(previous)
    # FAILING
    if tier is Tier.FAILING:
        return _reminder(item, previous, status, now, reminder)
    if not failing:
        return to(OK, "resolved") if tier is Tier.OK else to(DEGRADED, "degraded")
    return AlertDecision(previous)


def _reminder(
    item: Item, previous: AlertState, status: Status, now: datetime, reminder: timedelta | None
) -> AlertDecision:
    """Reminders fall due at since + n × reminder; each slot is posted at most once, by
    the first run after it (a run every 15 minutes and a 4 h reminder: one in 16 runs)."""
    if reminder is None:
        return AlertDecision(previous)
    slot = int((now - previous.since) / reminder)
    if slot <= int(previous.details.get("reminded", 0)):
        return AlertDecision(previous)
    key = f"{claim_key(item.id, 'reminder', previous.since)}:{slot}"
    state = replace(
        previous,
        last_notified_at=now,
        last_status=status,
        details={**previous.details, "reminded": slot},
    )
    return AlertDecision(state, Post("reminder", key, previous.since))


def _state(item: Item, state: str, now: datetime, status: Status, *, notified: bool = False) -> AlertState:
    notified_at = now if notified else None
    return AlertState(item.id, state, since=now, last_notified_at=notified_at, last_status=status)


def claim_key(item_id: str, kind: str, since: datetime) -> str:
    return f"alert:{item_id}:{kind}:{since.isoformat()}"


def silence_reason(alerts: Alerts, item_id: str, at: datetime) -> str | None:
    """Why no alert about ``item_id`` may be posted at ``at``, if a silence or a
    maintenance window says so."""
    for silence in alerts.silences:
        if silence.start <= at < silence.end and (not silence.items or item_id in silence.items):
            return f"silenced until {silence.end.isoformat()}: {silence.reason}"
    for window in alerts.maintenance:
        if window.bounds.contains(at):
            return f"maintenance window {window.start}–{window.end} {window.timezone}"
    return None


# -- rollback triggers -------------------------------------------------------------------

CLEAR, PENDING, FIRED = "clear", "pending", "fired"


@dataclass(frozen=True)
class TriggerDecision:
    state: AlertState | None
    #: Post the rollback call now (after claiming ``rollback:<period>:<name>``).
    call: bool = False


def trigger_state_key(name: str) -> str:
    """The trigger's row in the alert state; ``:`` never occurs in item ids."""
    return f"rollback:{name}"


def decide_trigger(
    name: str,
    previous: AlertState | None,
    firing: bool,
    *,
    now: datetime,
    hold: timedelta | None,
    period: int,
) -> TriggerDecision:
    """Like a Prometheus alerting rule with ``for``: the condition must be seen to hold
    from its first sighting for ``hold`` before the call goes out; a sighting that stops
    holding starts over. State from an earlier GO period does not count."""
    key = trigger_state_key(name)
    if previous is not None and previous.details.get("period") != period:
        previous = None
    if not firing:
        if previous is None or previous.state == CLEAR:
            return TriggerDecision(previous)
        return TriggerDecision(AlertState(key, CLEAR, since=now, details={"period": period}))
    if previous is not None and previous.state == FIRED:
        return TriggerDecision(previous)
    first_seen = previous.since if previous is not None and previous.state == PENDING else now
    if hold is None or now - first_seen >= hold:
        return TriggerDecision(
            AlertState(key, FIRED, since=first_seen, last_notified_at=now, details={"period": period}), True
        )
    if previous is not None and previous.state == PENDING:
        return TriggerDecision(previous)
    return TriggerDecision(AlertState(key, PENDING, since=first_seen, details={"period": period}))
