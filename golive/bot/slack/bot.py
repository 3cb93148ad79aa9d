"""The Slack bot's state: the checklist, the store, the Web client and surface, the
approvers, the schedule it shares with ``serve``, and the work it runs after acks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ...checks.model import Checklist
from ...checks.secrets import redact
from ...storage import Store
from ..core import transitions
from ..core.scheduler import ReleaseScheduler
from ..core.surface import Surface
from ..ha.database import LeaderElection
from ..render import blocks
from ..render.blocks import Message
from ..render.messages import text
from .approvers import SlackApprovers
from .respond import RESPONSE_URL_USES, Asked, respond

log = structlog.get_logger(__name__)


@dataclass
class Bot:
    checklist: Checklist
    store: Store
    client: AsyncWebClient
    channel: str
    approvers: SlackApprovers
    surface: Surface
    #: The schedule and, through it, the alerts and announcements after runs: built and
    #: started by ``serve``, which runs them with or without Slack. Its run lock is the
    #: bot's too: one run at a time, scheduled or asked for.
    scheduler: ReleaseScheduler
    #: Work after acks runs a few at a time, so a burst of commands cannot starve the acks
    #: (and the event loop) of the next requests.
    work_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    running: int | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    #: This process's part in the leader election (set by ``serve``), for ``/golive schedule``.
    election: LeaderElection | None = None
    #: Workspaces or Grid organisations served besides the bot token's own
    #: (:mod:`golive.bot.slack.workspace`).
    allowed_teams: tuple[str, ...] = ()

    @property
    def language(self) -> str:
        return self.checklist.release.language

    def t(self, key: str, **values: Any) -> str:
        return text(self.language, key, **values)

    def background(self, work: Awaitable[Any]) -> None:
        """Run after the ack; keep a reference so the task is not collected mid-flight.
        The work tells the person of its own errors (:mod:`golive.bot.slack.replies`);
        anything it did not catch is logged here, once, rather than left in the task."""

        async def limited() -> None:
            async with self.work_slots:
                try:
                    await work
                except Exception:
                    log.exception("work after an ack failed")

        task = asyncio.get_running_loop().create_task(limited())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def in_release_channel(self, asked: Asked) -> bool:
        """Whether ``asked`` came from the release channel (configured by id or by name;
        with none configured, the bot posts where it is asked)."""
        if not self.channel:
            return True
        configured = self.channel.lstrip("#")
        return asked.channel == self.channel or (
            bool(asked.channel_name) and asked.channel_name == configured
        )

    async def tell(self, asked: Asked, message: str) -> None:
        """``message`` is mrkdwn with what people wrote in it escaped; a long one is told in
        as many messages as Slack's limits need."""
        # Replies quote errors (the database's among them), which may name a URL with a password.
        await self.answer_all(asked, blocks.reply(redact(message), self.language))

    async def answer_all(self, asked: Asked, messages: list[Message]) -> None:
        """Several answers to one request. A response_url takes a few; the rest would be
        ephemeral posts, which a conversation the bot is not in refuses. So outside the
        release channel, when they do not all fit, the last answer that fits says how
        many are left and where to ask for all of it."""
        fits = RESPONSE_URL_USES - asked.uses
        if asked.response_url is None or len(messages) <= fits or self.in_release_channel(asked):
            for message in messages:
                await self.answer(asked, message)
            return
        shown = messages[: max(fits - 1, 0)]
        for message in shown:
            await self.answer(asked, message)
        where = f"<#{self.channel}>" if self.channel[:1] in ("C", "G") else self.channel
        await self.tell(asked, self.t("answers_left", count=len(messages) - len(shown), channel=where))

    async def answer(self, asked: Asked, message: Message) -> None:
        """Tell the person who asked, privately: through the response_url, which works in
        any conversation; else (none, used up, failed) ephemerally where they asked.
        An answer that cannot be delivered is logged, never raised: it is the last word."""
        if await respond(asked, message):
            return
        try:
            await self.surface.ephemeral(asked.channel, asked.user, message)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not answer", user=asked.user, channel=asked.channel, error=type(exc).__name__)

    async def link_to(self, channel: str, ts: str) -> str:
        """A link to a message the bot posted, for the person who asked elsewhere; the
        channel's mention where Slack gives no link."""
        try:
            link = await self.surface.permalink(channel, ts)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("no permalink", channel=channel, error=type(exc).__name__)
            link = None
        if link:
            return link
        return f"<#{channel}>" if channel[:1] in ("C", "G") else channel


def as_message(text: str) -> Message:
    """A private answer of text."""
    # Replies quote errors (the database's among them), which may name a URL with a password.
    text = redact(text)
    return Message(text, [blocks.section(text)])


async def announce_change(bot: Bot, channel: str) -> None:
    """GO, or its withdrawal, once across replicas (:mod:`golive.bot.core.transitions`)."""
    await transitions.announce_change(bot.checklist, bot.store, bot.surface, bot.channel or channel)
