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
from ..core.errors import NotApprover, UserError
from ..render.mrkdwn import echo, escape
from .respond import Asked

#: How much of a refusal's text a reply quotes (it may quote what was typed).
REASON_SHOWN = 1000

log = logging.getLogger(__name__)


class Replier(Protocol):
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
    except UserError as exc:
        # A refusal is plain text, and may quote what was typed.
        reason = echo(exc, REASON_SHOWN)
        reply = user_error(exc) if user_error is not None else bot.t("error", reason=reason)
    except StorageError as exc:
        log.warning("%s: %s", what, exc)
        reply = bot.t("not_recorded", reason=echo(exc, REASON_SHOWN))
    except Exception:
        log.exception("%s failed", what)
        reply = bot.t("error", reason="internal error; see the bot's log")
    else:
        return
    told.failed = True
    await bot.tell(asked, reply)
