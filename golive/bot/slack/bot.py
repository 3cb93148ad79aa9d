"""The Slack bot's state: the checklist, the store, the Web client and surface, the
approvers, the schedule it shares with ``serve``, and the work it runs after acks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from ...checks.model import Checklist
from ...checks.secrets import redact
from ...storage import Store
from ..core import transitions
from ..core.scheduler import ReleaseScheduler
from ..core.surface import Surface
from ..ha.database import LeaderElection
from ..render import blocks
from ..render.messages import text
from .approvers import SlackApprovers


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

    @property
    def language(self) -> str:
        return self.checklist.release.language

    def t(self, key: str, **values: Any) -> str:
        return text(self.language, key, **values)

    def background(self, work: Any) -> None:
        """Run after the ack; keep a reference so the task is not collected mid-flight."""
        async def limited() -> None:
            async with self.work_slots:
                await work

        task = asyncio.get_running_loop().create_task(limited())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def tell(self, channel: str, user: str, message: str) -> None:
        """``message`` is mrkdwn with what people wrote in it escaped; a long one is told in
        as many messages as Slack's limits need."""
        # Replies quote errors (the database's among them), which may name a URL with a password.
        for part in blocks.reply(redact(message), self.language):
            await self.surface.ephemeral(channel, user, part)


async def announce_change(bot: Bot, channel: str) -> None:
    """GO, or its withdrawal, once across replicas (:mod:`golive.bot.core.transitions`)."""
    await transitions.announce_change(bot.checklist, bot.store, bot.surface, bot.channel or channel)
