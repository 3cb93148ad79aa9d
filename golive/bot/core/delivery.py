"""Posting a notification that was claimed in the database (``Store.claim_notification``),
exactly once in effect, through the outbox (:mod:`golive.storage.outbox`).

The claim comes first, so no second run, replica or restart posts the same thing. Then
each message is written to the outbox and posted with message metadata that carries the
notification's claim key and a token unique to the message
(``event_type: golive_notification``). What happens when a post fails depends on whether
Slack may have taken it:

- Slack answered with a refusal (``ok: false``, 429 after the client's retries) or could
  not be reached at all: nothing was posted. The first message's claim is released and
  its outbox row dropped, and the next run (or the rollback watch's next round) decides
  and posts it again.
- The connection broke after the request was sent, no answer came in time, or Slack
  answered 5xx: Slack may have posted it. The client does not repeat such a post
  (:mod:`golive.bot.slack.client`); instead the channel's history since the claim is
  searched for the token (``conversations.history`` with ``include_all_metadata``). Found:
  it is posted. Not found: it is posted again, with the same token.
- The history cannot be read either (Slack down, the process stopped): the row stays in
  the outbox, and whoever resumes the outbox next (the next run after a restart, or the
  new leader) searches the history before posting. A process holds a row it works on
  with a lease, so a paused leader and its successor never post the same row at once.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ...storage import OutboxEntry, StorageError, Store
from ..render.blocks import Message
from .surface import Surface

log = logging.getLogger(__name__)

#: The metadata event type of golive's notifications.
EVENT_TYPE = "golive_notification"
#: How long a process holds an outbox row it posts: above the Slack client's timeout
#: plus a search of the history, so a slow post is not taken over, and short enough that
#: a successor resumes a killed leader's row soon.
LEASE = timedelta(seconds=45)
#: The history is searched from this long before the claim: Slack's clock and ours differ.
CLOCK_SKEW = timedelta(minutes=5)
#: Posts of one message per attempt to deliver it when the history shows none arrived.
POSTS_PER_ATTEMPT = 3


#: Set while the outbox posts: the caller itself settles a post whose outcome is unknown
#: (the Slack client asks :func:`settled_by_caller`).
_settled_by_caller: ContextVar[bool] = ContextVar("golive_settled_by_caller", default=False)


@contextmanager
def looked_up_when_in_doubt() -> Iterator[None]:
    """Around a post whose caller searches the channel's history when its outcome is
    unknown: the client does not repeat it on any answer but 429."""
    token = _settled_by_caller.set(True)
    try:
        yield
    finally:
        _settled_by_caller.reset(token)


def settled_by_caller() -> bool:
    """Whether the post being sent is inside :func:`looked_up_when_in_doubt`."""
    return _settled_by_caller.get()


class Delivery(enum.Enum):
    SENT = "sent"
    #: Certainly not posted: the claims were released, it is posted again later.
    NOT_SENT = "not sent"
    #: Not known yet: kept in the outbox, which posts it once (or finds it posted) later.
    UNCERTAIN = "uncertain"


class _Outcome(enum.Enum):
    POSTED = "posted"
    REFUSED = "refused"
    UNKNOWN = "unknown"
    #: Another process took the row over (this one's lease had ended): it posts it.
    TAKEN = "taken"


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def notification_metadata(entry: OutboxEntry) -> dict[str, Any]:
    """The message metadata a notification is posted with: what finds it in the history."""
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {"key": entry.claim, "part": entry.part, "token": entry.token},
    }


def _failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _find(surface: Surface, entry: OutboxEntry, what: str) -> str | BaseException | None:
    """The ts of the entry's post in the channel's history, None when it is not there,
    or the error that kept the history from being read."""
    try:
        return await surface.find_post(entry.channel, EVENT_TYPE, entry.token, entry.created_at - CLOCK_SKEW)
    except Exception as exc:  # the surface's transport: Slack API errors, timeouts, resets
        log.error(
            "%s: could not read the channel's history to see whether it was posted (%s); "
            "it stays in the outbox and is looked up again later (the bot needs the "
            "channels:history and groups:history scopes)",
            what,
            _failure(exc),
        )
        return exc


async def _send(store: Store, surface: Surface, entry: OutboxEntry, what: str) -> _Outcome:
    """Post one leased outbox message, searching the history first wherever an earlier
    post of it may have arrived. REFUSED only when no post of it can have arrived."""
    try:
        return await _send_once(store, surface, entry, what)
    except StorageError as exc:
        # The row keeps what was known: a post that went out is looked up next time.
        log.error("%s: the outbox could not be updated: %s", what, exc)
        return _Outcome.UNKNOWN


async def _send_once(store: Store, surface: Surface, entry: OutboxEntry, what: str) -> _Outcome:
    message = Message(entry.text, entry.blocks)
    for _ in range(POSTS_PER_ATTEMPT):
        if entry.attempts:
            found = await _find(surface, entry, what)
            if isinstance(found, BaseException):
                return _Outcome.UNKNOWN
            if found is not None:
                log.info("%s was posted before (ts %s); it is not posted again", what, found)
                await store.outbox_posted(entry.id, found)
                return _Outcome.POSTED
        # Counted before the request goes out: a process that dies during it leaves a
        # row that its successor looks up before posting. A process paused past its
        # lease finds the row taken here, and leaves it to the one that took it.
        if not await store.outbox_attempted(entry, now=_wall_clock(), lease=LEASE):
            log.warning("%s is posted by another process now; this one leaves it", what)
            return _Outcome.TAKEN
        entry = replace(entry, attempts=entry.attempts + 1)
        try:
            with looked_up_when_in_doubt():
                ts = await surface.post(entry.channel, message, metadata=notification_metadata(entry))
        except Exception as exc:  # the surface's transport: Slack API errors, timeouts, resets
            if surface.certainly_not_posted(exc):
                log.warning("%s not posted (%s)", what, _failure(exc))
                # An earlier post of it may still have arrived unseen: then it stays.
                return _Outcome.REFUSED if entry.attempts == 1 else _Outcome.UNKNOWN
            log.warning("%s may have been posted (%s); looking in the channel's history", what, _failure(exc))
            continue
        await store.outbox_posted(entry.id, ts)
        return _Outcome.POSTED
    return _Outcome.UNKNOWN


async def resume_outbox(
    store: Store, surface: Surface, release_id: int, *, now: datetime | None = None
) -> int:
    """Post the release's messages left in the outbox (by a failed post, a restart or a
    previous leader), oldest first, each once; the number now known to be posted. Stops
    at the first that is still not known, so they stay in order. Never raises for Slack's
    or the database's failures: the next call tries again."""
    done = 0
    try:
        for pending in await store.pending_outbox(release_id):
            entry = await store.take_outbox(pending.id, now=now or _wall_clock(), lease=LEASE)
            if entry is None:
                return done  # another process is posting it, or did
            what = f"the notification {entry.claim} (message {entry.part + 1})"
            outcome = await _send(store, surface, entry, what)
            if outcome is not _Outcome.POSTED:
                await store.outbox_unlease(entry)
                return done
            done += 1
    except StorageError as exc:
        log.error("the outbox could not be resumed: %s", exc)
    return done


async def deliver(
    store: Store,
    release_id: int,
    keys: Sequence[str],
    what: str,
    surface: Surface,
    channel: str,
    messages: Sequence[Message],
) -> Delivery:
    """Post ``messages`` (the notifications claimed as ``keys``) to ``channel`` through the
    outbox, as the module docstring says. Never raises for Slack's failures."""
    await resume_outbox(store, surface, release_id)  # what is older goes first
    try:
        entries = await store.add_outbox(
            release_id,
            " ".join(keys),
            channel,
            [(m.text, m.blocks) for m in messages],
            at=_wall_clock(),
            lease=LEASE,
        )
    except StorageError as exc:
        # Without its outbox row a post that fails could not be looked up: not posted now,
        # and the claims stay, so it is not posted twice either.
        log.error("%s is not posted: the outbox could not be written: %s", what, exc)
        return Delivery.UNCERTAIN
    for index, entry in enumerate(entries):
        outcome = await _send(store, surface, entry, what)
        if outcome is _Outcome.POSTED:
            continue
        if outcome is _Outcome.REFUSED and index == 0:
            return await _withdraw(store, release_id, keys, entries, what)
        if outcome is _Outcome.TAKEN:
            return Delivery.UNCERTAIN  # the process that took it over posts the rest too
        try:
            for left in entries[index:]:
                await store.outbox_unlease(left)
        except StorageError as exc:
            log.error("%s: the outbox could not be updated: %s", what, exc)
        log.warning("%s is kept in the outbox and posted (once) by a later attempt", what)
        return Delivery.UNCERTAIN
    return Delivery.SENT


async def _withdraw(
    store: Store, release_id: int, keys: Sequence[str], entries: Sequence[OutboxEntry], what: str
) -> Delivery:
    """Slack refused the first message: nothing is out, so the notification is undone
    and decided again by the next run."""
    try:
        await store.drop_outbox([e.id for e in entries])
        for key in keys:
            await store.release_notification(release_id, key)
    except StorageError as stored:
        log.error("%s: its claim could not be released, so it is not posted again: %s", what, stored)
        return Delivery.UNCERTAIN
    log.warning("%s not posted; it is posted again later", what)
    return Delivery.NOT_SENT
