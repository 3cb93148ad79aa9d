"""Posting a notification that was claimed in the database (``Store.claim_notification``).

The claim comes first, so no second run, replica or restart posts the same thing. When the
post then fails, what to do with the claim depends on whether Slack may have posted it:

- Slack answered with an error (``SlackApiError``: ``ok: false``, 429 or 5xx after the
  client's retries) or could not be reached at all: nothing was posted. The claim is
  released, and the next run (or the rollback watch's next round) posts it.
- The request timed out or the connection broke after it was sent: Slack may have posted
  it. The claim stays: a notification missed is logged as an error, a notification posted
  twice would teach the channel to ignore golive.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence

import aiohttp
from slack_sdk.errors import SlackApiError

from ..storage import StorageError, Store
from .blocks import Message
from .surface import Surface

log = logging.getLogger(__name__)


class Delivery(enum.Enum):
    SENT = "sent"
    #: Certainly not posted: the claims were released, it is posted again later.
    NOT_SENT = "not sent"
    #: Perhaps posted: the claims stay, it is not posted again.
    UNCERTAIN = "uncertain"


def certainly_not_posted(error: BaseException) -> bool:
    """Whether Slack cannot have posted the message the failed call carried."""
    if isinstance(error, SlackApiError):
        return True  # Slack answered, and the answer was not ok
    # No connection was made, so no request reached Slack.
    return isinstance(error, aiohttp.ClientConnectorError | ConnectionRefusedError)


async def deliver(
    store: Store,
    release_id: int,
    keys: Sequence[str],
    what: str,
    surface: Surface,
    channel: str,
    messages: Sequence[Message],
) -> Delivery:
    """Post ``messages`` (the notifications claimed as ``keys``) to ``channel``; on a
    failure, release or keep the claims as the module docstring says. A message after
    the first one failing counts as uncertain: the first one is out. Never raises for
    Slack's failures."""
    posted = 0
    try:
        for message in messages:
            await surface.post(channel, message)
            posted += 1
    except Exception as exc:  # the surface's transport: Slack API errors, timeouts, resets
        failure = f"{type(exc).__name__}: {exc}"
        if posted or not certainly_not_posted(exc):
            log.error("%s may have been posted (%s); it is not posted again", what, failure)
            return Delivery.UNCERTAIN
        log.warning("%s not posted (%s); it is posted again later", what, failure)
        try:
            for key in keys:
                await store.release_notification(release_id, key)
        except StorageError as stored:
            log.error("%s: its claim could not be released, so it is not posted again: %s", what, stored)
            return Delivery.UNCERTAIN
        return Delivery.NOT_SENT
    return Delivery.SENT
