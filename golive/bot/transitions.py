"""Each change of the verdict, told to the channel once: GO withdrawn, and GO again.

The verdict is re-evaluated after every change of state on whichever replica handled it
(a run, a sign-off or its revocation, a confirmation, a waiver), and on the leader's
timer for what changes with time alone (a sign-off or waiver expiring, evidence going
stale). Whoever sees a change first tells it:

- GO periods count the withdrawals before them: GO number ``n`` is claimed as ``go:<n>``
  (``publish.announce_if_go``) and withdrawn as ``withdrawn:<n>``. Both are claimed in the
  database (``Store.claim_notification``), so of all replicas, clicks and timer rounds
  seeing the same change exactly one posts it, and a GO after a withdrawal is a new one.
- A withdrawal says why and who or what caused it: the person who revoked, the items
  that regressed, the waiver or sign-off that expired, the evidence gone stale.

A replica may decide on a state that another one changes a moment later (a revocation
and a new sign-off at once): after posting a change, the verdict is read once more, so
the channel ends where the verdict is; the leader's timer settles anything left.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import datetime

from ..checks.model import Checklist
from ..checks.verdict import Blocker
from ..storage import Store
from . import service
from .blocks import mrkdwn_escape, no_go_announcement
from .delivery import Delivery, deliver
from .messages import text
from .publish import announce_if_go
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


async def withdraw_go(
    store: Store, surface: Surface, channel: str, state: service.State, cause: str | None = None
) -> bool:
    """Post NO-GO once if GO stands announced and the verdict no longer is GO. ``cause``:
    who or what changed it, as Slack mrkdwn; the blockers are named when it is None.
    True when this call posted it (or may have: Slack's answer was lost)."""
    if state.verdict.go:
        return False
    period = await go_period(store, state.release_id)
    if period is None:
        return False
    key = f"withdrawn:{period}"
    if not await store.claim_notification(state.release_id, key, at=state.at):
        return False
    message = no_go_announcement(state, cause or blockers_cause(state))
    delivered = await deliver(store, state.release_id, [key], "NO-GO", surface, channel, [message])
    return delivered is not Delivery.NOT_SENT


async def announce_change(
    checklist: Checklist,
    store: Store,
    surface: Surface,
    channel: str,
    *,
    cause: str | None = None,
    state: service.State | None = None,
    now: Callable[[], datetime] = service.utcnow,
) -> list[Change]:
    """Re-evaluate the verdict (or take ``state``, read just now) and tell the channel if
    it changed since it was last told. The changes this call posted, oldest first."""
    posted: list[Change] = []
    for _ in range(2):  # once more after a change: another replica may have moved on
        if state is None:
            state = await service.current_state(checklist, store, now=now)
        if state.verdict.go:
            told = await announce_if_go(checklist, store, surface, channel, state)
            change = Change.GO
        else:
            told = await withdraw_go(store, surface, channel, state, cause)
            change = Change.WITHDRAWN
        if not told:
            break
        posted.append(change)
        state, cause = None, None
    return posted


def revoked_cause(checklist: Checklist, role_title: str, user: str) -> str:
    return text(checklist.release.language, "cause_revoked", role=mrkdwn_escape(role_title), user=user)


def regressed_cause(reasons: Sequence[str]) -> str:
    """Sign-offs the run invalidated: ``reasons`` are plain text, one per role."""
    return "; ".join(mrkdwn_escape(reason) for reason in reasons)


def blockers_cause(state: service.State) -> str:
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


def _blocker_cause(state: service.State, blocker: Blocker) -> str:
    language = state.checklist.release.language
    reason = mrkdwn_escape(_clip(blocker.reason))
    if blocker.subject.startswith("signoff:"):
        return text(language, "cause_signoff", role=mrkdwn_escape(blocker.title), reason=reason)
    values = {
        "title": mrkdwn_escape(blocker.title),
        "item": blocker.subject,
        "status": blocker.status,
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
            user=waiver.created_by,
            at=f"{waiver.expires_at:%Y-%m-%d %H:%M}",
            **values,
        )
    return text(language, "cause_item", **values)


def _clip(value: str) -> str:
    return value if len(value) <= REASON_CHARS else value[: REASON_CHARS - 1] + "…"
