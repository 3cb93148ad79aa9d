"""What the bot tells the release channel on its own, after runs and while GO stands.

After every run (:meth:`Notifier.after_run`), in this order, cause before effect:

1. regression alerts, reminders and "resolved" posts per item (decided in
   :mod:`golive.bot.core.alert_rules`; silences and maintenance windows hold them back);
2. sign-offs whose owned items regressed are invalidated in storage and their approvers
   pinged, so the role signs again;
3. if GO had been announced and the verdict is no longer GO, NO-GO is posted with the
   reason (:mod:`golive.bot.core.transitions`), so the next GO is announced as a new one.

Sign-off pings and GO withdrawals are not held back by silences: they change what the
channel may rely on, which no silence should hide.

While GO stands, :meth:`Notifier.check_rollback` evaluates the checklist's rollback
triggers (PromQL, through the ``prometheus_query`` probe's client) and posts the
rollback call with the contact plan once a trigger has held for its ``for``.

Every post is claimed first (``Store.claim_notification``), so neither a restart nor a
second process posts it again; a post Slack certainly refused is released and posted
later, one whose outcome is unknown stays in the outbox and is posted exactly once
(:mod:`golive.bot.core.delivery`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ...checks.errors import ProbeError
from ...checks.model import Checklist, Item, RollbackTrigger
from ...checks.phrases import Phrase
from ...checks.rollback import trigger_fires
from ...checks.status import Status
from ...checks.verdict import REGRESSED, regressions
from ...storage import AlertState, Store
from ..ops.metrics import METRICS
from ..render import alert_blocks
from ..state import PostKind, State
from . import alert_rules, transitions, usecases
from .cards import refresh_signoff_cards
from .delivery import Delivery, deliver, resume_outbox
from .surface import Surface

log = logging.getLogger(__name__)
#: Seconds a rollback trigger's query may take.
TRIGGER_TIMEOUT = 10.0


@dataclass(frozen=True)
class _Pending:
    """An alert line claimed for posting, and the item's state once it is posted."""

    key: str
    line: str
    state: AlertState | None


@dataclass
class Notifier:
    checklist: Checklist
    store: Store
    surface: Surface
    channel: str
    now: Callable[[], datetime] = field(default=usecases.utcnow)

    # -- after a run ---------------------------------------------------------------

    async def after_run(self, run_id: int, state: State) -> None:
        # What a failed post, a restart or the previous leader left in the outbox first.
        await resume_outbox(self.store, self.surface, state.release_id)
        await self._item_alerts(run_id, state)
        reasons = await self._invalidate_signoffs(state)
        if reasons:
            state = await usecases.current_state(self.checklist, self.store, now=lambda: state.at)
            # No card may keep showing the sign-off, with a Revoke button that would refuse.
            await refresh_signoff_cards(self.checklist, self.store, self.surface)
        cause = transitions.regressed_cause(self.checklist.release.language, reasons) if reasons else None
        await transitions.announce_change(
            self.checklist,
            self.store,
            self.surface,
            self.channel,
            cause=cause,
            now=lambda: state.at,
            go=False,  # publish_run announced it, before this
        )

    async def _item_alerts(self, run_id: int, state: State) -> None:
        ran = await self.store.run_results(run_id)
        previous_run = await self._previous_run(state.release_id, run_id)
        posts: dict[PostKind, list[_Pending]] = {}
        for item_id in ran:
            try:
                item = self.checklist.item(item_id)
            except KeyError:  # the checklist changed since the run
                continue
            result = state.results.get(item_id)
            if result is None:
                continue
            history = [result.status, *await self._earlier_statuses(state.release_id, item, run_id)]
            previous = await self.store.alert_state(state.release_id, item_id)
            reason = alert_rules.silence_reason(self.checklist.alerts, item_id, state.at)
            decision = alert_rules.decide(
                item,
                history,
                previous,
                now=state.at,
                reminder=self.checklist.alerts.reminder,
                silenced=reason is not None,
                temporary=bool(result.observed.get("TEMPORARY")),
            )
            if decision.held_back is not None:
                log.info("alert %s for %s held back: %s", decision.held_back.kind, item_id, reason)
            post = decision.post
            changed = decision.state if decision.state is not None and decision.state != previous else None
            if post is not None and await self.store.claim_notification(
                state.release_id, post.key, at=state.at
            ):
                line = alert_blocks.alert_line(self.checklist, item, result, post, run_id, previous_run)
                # The new state is stored once the post is out: if Slack certainly did
                # not post it, the next run decides (and posts) it again.
                posts.setdefault(post.kind, []).append(_Pending(post.key, line, changed))
            elif changed is not None:
                await self.store.set_alert_state(state.release_id, changed)
        # One message per kind and run, failing first: a run that breaks ten items posts
        # one alert, not ten (Slack allows about one post a second per channel).
        for kind in ("failing", "reminder", "degraded", "resolved"):
            pending = posts.get(kind, [])
            if pending:
                await self._post_alerts(state.release_id, kind, pending)

    async def _post_alerts(self, release_id: int, kind: PostKind, pending: list[_Pending]) -> None:
        messages = alert_blocks.alert_messages(self.checklist, kind, [p.line for p in pending])
        keys = [p.key for p in pending]
        what = f"the {kind} alert"
        delivered = await deliver(self.store, release_id, keys, what, self.surface, self.channel, messages)
        if delivered is Delivery.NOT_SENT:
            return
        for entry in pending:
            if entry.state is not None:
                await self.store.set_alert_state(release_id, entry.state)
        METRICS.alerts_sent.labels(kind=kind).inc(len(pending))

    async def _earlier_statuses(self, release_id: int, item: Item, run_id: int) -> list[Status]:
        """The item's statuses in the runs before this one, newest first, as many as its
        flap control counts."""
        if item.alert.window <= 1:
            return []
        history = await self.store.item_history(release_id, item.id, limit=item.alert.window)
        return [result.status for ran, result in history if ran != run_id][: item.alert.window - 1]

    async def _previous_run(self, release_id: int, run_id: int) -> int | None:
        for run in await self.store.runs(release_id, limit=5):
            if run.id < run_id:
                return run.id
        return None

    async def _invalidate_signoffs(self, state: State) -> list[Phrase]:
        reasons: list[Phrase] = []
        for signoff in state.verdict.signoffs:
            record = signoff.record
            if record is None or record.invalidated_at is not None:
                continue
            regressed = regressions(self.checklist, signoff.role, record, state.results)
            if not regressed:
                continue
            items = ", ".join(regressed)
            # True for the one process that ended it: only that one pings.
            ended = await self.store.invalidate_signoff(
                state.release_id, signoff.role, reason=REGRESSED + items, at=state.at
            )
            if ended:
                role = self.checklist.role(signoff.role)
                reason = Phrase.of("signoff_regressed_items", items=items)
                for message in alert_blocks.signoff_invalidated(self.checklist, role, reason):
                    await self.surface.post(self.channel, message)
                reasons.append(Phrase.of("signoff_invalidated_role", role=role.title, reason=reason))
        return reasons

    # -- rollback watch ---------------------------------------------------------------

    async def check_rollback(self) -> int:
        """Evaluate the rollback triggers while GO stands; the number of calls posted."""
        watched = watched_triggers(self.checklist)
        if not watched:
            return 0
        release_id = await self.store.release_id(self.checklist.release.name, self.checklist.release.version)
        period = await transitions.go_period(self.store, release_id)
        if period is None:
            return 0
        calls = 0
        for trigger in watched:
            at = self.now()
            firing = await self._firing(trigger, at)
            if firing is None:
                continue
            key = alert_rules.trigger_state_key(trigger.name)
            previous = await self.store.alert_state(release_id, key)
            decision = alert_rules.decide_trigger(
                trigger.name, previous, firing, now=at, hold=trigger.hold_for, period=period
            )
            claim = f"rollback:{period}:{trigger.name}"
            if decision.call and await self.store.claim_notification(release_id, claim, at=at):
                assert decision.state is not None
                call = alert_blocks.rollback_call(self.checklist, trigger, at - decision.state.since)
                what = "the rollback call"
                posted = await deliver(
                    self.store, release_id, [claim], what, self.surface, self.channel, call
                )
                if posted is Delivery.NOT_SENT:
                    continue  # the trigger's state stays as it was: called again next round
                calls += 1
            if decision.state is not None and decision.state != previous:
                await self.store.set_alert_state(release_id, decision.state)
        return calls

    async def _firing(self, trigger: RollbackTrigger, at: datetime) -> bool | None:
        """Prometheus' alerting semantics: the condition fires when the query returns any
        series (``rate(…) > 0.05`` returns none while the rate is below). A scalar fires
        when it is not 0. None when Prometheus cannot answer: nothing changes then."""
        assert trigger.condition is not None and trigger.prometheus_url is not None
        try:
            return await trigger_fires(
                trigger.prometheus_url,
                trigger.condition,
                release_name=self.checklist.release.name,
                release_version=self.checklist.release.version,
                base_dir=Path(self.checklist.source).parent,
                query_timeout=TRIGGER_TIMEOUT,
                at=at,
            )
        except ProbeError as exc:
            log.warning("rollback trigger %r not evaluated: %s", trigger.name, exc)
            return None


def watched_triggers(checklist: Checklist) -> list[RollbackTrigger]:
    """Triggers the watch can evaluate: a condition and a Prometheus to ask."""
    return [t for t in checklist.rollback.triggers if t.condition and t.prometheus_url]
