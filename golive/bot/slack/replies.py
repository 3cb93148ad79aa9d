"""Errors of the work after an ack, told to the person who asked, ephemerally.

A refusal (not an approver, a bad argument) says why; a database failure says nothing
was recorded; anything else is logged and answered as an internal error. Nothing is
recorded for any of them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from ...storage import StorageError
from ..core.errors import AlreadySigned, NotApprover, UserError
from ..render.mrkdwn import clip, echo, escape, mention
from .respond import Asked

#: How much of a refusal's text a reply quotes (it may quote what was typed).
REASON_SHOWN = 1000

log = logging.getLogger(__name__)


class Replier(Protocol):
    @property
    def language(self) -> str: ...

    def t(self, key: str, **values: Any) -> str: ...

    async def tell(self, asked: Asked, message: str) -> None: ...


class Told:
    """Whether the work failed and the person was told; the caller then stops."""

    failed = False


@asynccontextmanager
async def errors_told(
    bot: Replier,
    asked: Asked,
    what: str,
    *,
    user_error: Callable[[UserError], str] | None = None,
) -> AsyncIterator[Told]:
    """Around the work of ``what`` (for the log): an error becomes the reply to who asked.
    ``user_error`` words a refusal where the generic one would not fit."""
    told = Told()
    try:
        yield told
    except NotApprover as exc:
        reply = bot.t("not_approver", role=escape(exc.role.title))
    except AlreadySigned as exc:
        # A double click, or a second approver a moment late: information, not an error.
        at = f"{exc.signed_at:%Y-%m-%d %H:%M}"
        role = escape(exc.role.title)
        if exc.by_asker:
            reply = bot.t("signoff_already_yours", role=role, at=at)
        else:
            reply = bot.t("signoff_already", role=role, user=mention(exc.record.user), at=at)
    except UserError as exc:
        reply = user_error(exc) if user_error is not None else refusal(bot, exc)
    except StorageError as exc:
        log.warning("%s: %s", what, exc)
        reply = bot.t("not_recorded", reason=echo(exc, REASON_SHOWN))
    except Exception:
        log.exception("%s failed", what)
        reply = bot.t("error", reason=bot.t("internal_error"))
    else:
        return
    told.failed = True
    await bot.tell(asked, reply)


def refusal(bot: Replier, exc: UserError) -> str:
    """A refusal in the checklist's language, with the command's usage where it has one
    (Slack's words, ``/golive waive ITEM DAYS REASON``, never the CLI's options). What it
    quotes of what was typed is escaped and capped."""
    reason = clip(exc.say(bot.language, escape), REASON_SHOWN)
    if exc.key is None:  # worded without the catalogue: all of it may quote input
        reason = clip(escape(str(exc)), REASON_SHOWN)
    reply = bot.t("error", reason=reason)
    return f"{reply}\n{bot.t(exc.usage)}" if exc.usage else reply
