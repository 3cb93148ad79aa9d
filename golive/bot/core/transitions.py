"""Each change of the verdict, told to the channel once: GO withdrawn, and GO again.

The verdict is re-evaluated after every change of state on whichever replica handled it
(a run, a sign-off or its revocation, a confirmation, a waiver), and on the leader's
timer for what changes with time alone (a sign-off or waiver expiring, evidence going
stale). Whoever sees a change first tells it:

- GO periods count the withdrawals before them: GO number ``n`` is claimed as ``go:<n>``
  and withdrawn as ``withdrawn:<n>``. Both are claimed in the database
  (``Store.claim_notification``), so of all replicas, clicks and timer rounds seeing the
  same change exactly one posts it, and a GO after a withdrawal is a new one.
- The claims are read before the state, so a change is decided on a state read after
  the last change told: a click that read the verdict a moment before GO was announced
  cannot withdraw that GO, nor a timer round that read GO a moment before a revocation
  announce GO again.
- A withdrawal says why and who or what caused it: the person who revoked, the sign-offs
  a regression invalidated, the waiver or sign-off that expired, the evidence gone stale.
  It is read from what is stored, so whichever replica or timer round tells it says the
  same.

Two replicas may still decide on states a moment apart (a revocation on one, a new
sign-off on the other): after posting a change, the verdict is read once more, so the
channel ends where the verdict is; the leader's timer settles anything left.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import datetime

from ...checks.model import Checklist
from ...checks.phrases import Phrase
from ...checks.results import SignoffRecord
from ...checks.rollback import previous_good_revision
from ...checks.verdict import Blocker
from ...storage import Store
from ..render.blocks import (
    Message,
    blocker_reason,
    blocker_status,
    fits,
    go_announcement,
    mrkdwn_escape,
    no_go_announcement,
    unblocked_context,
)
from ..render.messages import say, text
from ..render.mrkdwn import mention
from ..state import State
from . import usecases
from .delivery import Delivery, deliver
from .surface import Surface

#: Blockers named in a withdrawal whose cause is not known otherwise.
CAUSES_SHOWN = 5
#: Characters of one blocker's reason shown in a withdrawal.
REASON_CHARS = 300


class Change(enum.Enum):
    GO = "GO"
    WITHDRAWN = "NO-GO"


async def go_period(store: Store, release_id: int) -> int | None:
    """The number of the GO currently standing, or None when GO is not announced.

    The prefix count is exact here: no ``go:<k>`` with k > n exists while n GOs were withdrawn.
    """
    period = await store.count_notifications(release_id, "withdrawn:")
    announced = await store.count_notifications(release_id, f"go:{period}")
    return period if announced else None


async def announce_change(
    checklist: Checklist,
    store: Store,
    surface: Surface,
    channel: str,
    *,
    cause: str | None = None,
    now: Callable[[], datetime] = usecases.utcnow,
    go: bool = True,
    withdraw: bool = True,
) -> list[Change]:
    """Re-evaluate the verdict as of ``now`` and tell the channel if it changed since it
    was last told. ``cause``: who or what changed it, as Slack mrkdwn, for a withdrawal
    (the blockers are named without it); ``go`` or ``withdraw`` False leaves that change
    to another caller (a run announces GO, its after-run work a withdrawal). The changes
    this call posted (or may have: Slack's answer was lost), oldest first."""
    posted: list[Change] = []
    for _ in range(2):  # once more after a change: another replica may have moved on
        change = await _tell(checklist, store, surface, channel, cause, now, go, withdraw)
        if change is None:
            break
        posted.append(change)
        cause = None
    return posted


async def _tell(
    checklist: Checklist,
    store: Store,
    surface: Surface,
    channel: str,
    cause: str | None,
    now: Callable[[], datetime],
    go: bool,
    withdraw: bool,
) -> Change | None:
    release = await usecases.release_context(checklist, store)
    period = await store.count_notifications(release.id, "withdrawn:")
    standing = await store.count_notifications(release.id, f"go:{period}") > 0
    state = await usecases.current_state(checklist, store, now=now)  # after the claims
    if state.verdict.go and not standing and go:
        change, key = Change.GO, f"go:{period}"
        messages = go_announcement(state, known_good_revision(state))
        held = await store.unanswered_deployments(release.id)
        if held:  # the deploys this GO releases (the leader answers them)
            line = unblocked_context(checklist.release.language, held)
            last = messages[-1]
            if fits([*last.blocks, line]):
                messages[-1] = Message(last.text, [*last.blocks, line])
            else:
                messages.append(Message(last.text, [line]))
    elif not state.verdict.go and standing and withdraw:
        change, key = Change.WITHDRAWN, f"withdrawn:{period}"
        messages = no_go_announcement(state, cause or blockers_cause(state))
    else:
        return None
    if not await store.claim_notification(release.id, key, at=state.at):
        return None
    delivered = await deliver(store, release.id, [key], change.value, surface, channel, messages)
    return None if delivered is Delivery.NOT_SENT else change


def known_good_revision(state: State) -> str | None:
    """The revision to roll back to, when the checklist does not name one: the newest good
    Helm revision below the current one, as a helm_release probe observed it."""
    found = previous_good_revision(state.results.values())
    if found is None:
        return None
    item_id, revision = found
    release = state.checklist.item(item_id).probe.get("release")
    return f"{release} revision {revision}" if release else f"revision {revision}"


def regressed_cause(language: str, reasons: Sequence[Phrase]) -> str:
    """Sign-offs the run invalidated, one reason per role, as Slack mrkdwn."""
    return "; ".join(say(language, reason, escape=mrkdwn_escape) for reason in reasons)


def blockers_cause(state: State) -> str:
    """What stands between the release and GO, as of ``state``: a waiver that expired is
    named with its author and time, a sign-off or an item with its reason (an expired
    sign-off, stale evidence and a failing check say so in theirs)."""
    language = state.checklist.release.language
    shown = state.verdict.blockers[:CAUSES_SHOWN]
    parts = [_blocker_cause(state, blocker) for blocker in shown]
    hidden = len(state.verdict.blockers) - len(shown)
    if hidden:
        parts.append(text(language, "cause_more", count=hidden))
    return "; ".join(parts)


def _blocker_cause(state: State, blocker: Blocker) -> str:
    language = state.checklist.release.language
    reason = _clip(blocker_reason(language, blocker))
    if blocker.subject.startswith("signoff:"):
        role = mrkdwn_escape(blocker.title)
        revoked = _revoked(state, blocker.subject.removeprefix("signoff:"))
        if revoked is not None and revoked.revoked_by is not None and revoked.revoked_at is not None:
            at = f"{revoked.revoked_at:%Y-%m-%d %H:%M}"
            return text(language, "cause_revoked", role=role, user=mention(revoked.revoked_by), at=at)
        return text(language, "cause_signoff", role=role, reason=reason)
    values = {
        "title": mrkdwn_escape(blocker.title),
        "item": mrkdwn_escape(blocker.subject),
        "status": blocker_status(language, blocker),
        "reason": reason,
    }
    # A waiver that ran out since the latest run is what turned the item: one that ran
    # out before that run is old news, and the run's result is the cause.
    since = state.run.started_at if state.run is not None else None
    expired = [
        w
        for w in state.records.waivers
        if w.item_id == blocker.subject
        and w.expires_at <= state.at
        and (since is None or w.expires_at > since)
    ]
    if expired:
        waiver = max(expired, key=lambda w: w.expires_at)
        return text(
            language,
            "cause_waiver_expired",
            user=mention(waiver.created_by),
            at=f"{waiver.expires_at:%Y-%m-%d %H:%M}",
            **values,
        )
    return text(language, "cause_item", **values)


def _revoked(state: State, role: str) -> SignoffRecord | None:
    """The role's latest sign-off, when that was revoked and none stands since."""
    mine = [s for s in state.records.signoffs if s.role == role]
    latest = max(mine, key=lambda s: s.signed_at, default=None)
    return latest if latest is not None and latest.revoked_at is not None else None


def _clip(value: str) -> str:
    return value if len(value) <= REASON_CHARS else value[: REASON_CHARS - 1] + "…"
