"""Where the bot's messages go: the :class:`Surface` protocol that Slack
(:mod:`golive.bot.slack.surface`) and the console (:mod:`golive.bot.console`) implement.

Both take the same :class:`~golive.bot.render.blocks.Message` and :class:`~golive.bot.render.charts.Chart`
values, so everything the bot would post in Slack can be seen (and tested) without it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ...errors import GoliveError
from ..render.blocks import Message

if TYPE_CHECKING:
    from ..render.chart_file import Chart


class Surface(Protocol):
    async def post(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str: ...

    def certainly_not_posted(self, error: BaseException) -> bool:
        """Whether a post that failed with ``error`` cannot have arrived (else the outbox
        looks for it in the channel's history before posting it again)."""
        ...

    async def find_post(self, channel: str, event_type: str, token: str, oldest: datetime) -> str | None:
        """The ts of the channel's top-level message posted since ``oldest`` whose
        metadata is of ``event_type`` with ``token`` in its payload; None when there is none."""
        ...

    async def update(self, channel: str, ts: str, message: Message) -> None: ...

    async def ephemeral(self, channel: str, user: str, message: Message) -> None: ...

    async def upload(self, channel: str, thread_ts: str | None, chart: Chart) -> None: ...

    async def permalink(self, channel: str, ts: str) -> str | None:
        """A link to the message, where the surface has links."""
        ...


class NotLeading(GoliveError):
    """A leader's message refused: this replica's lease may have lapsed, so another may
    lead and have said otherwise."""


class LeaderOnly:
    """The surface as the leader's scheduled work uses it: every post and edit first asks
    whether this replica still leads, so that a leader paused past its lease and waking
    up cannot overwrite what its successor posted."""

    def __init__(self, surface: Surface, leading: Callable[[], bool]) -> None:
        self.surface = surface
        self.leading = leading

    def _check(self, what: str) -> None:
        if not self.leading():
            raise NotLeading(f"not sent ({what}): the leader lease may have lapsed")

    async def post(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        self._check("post")
        return await self.surface.post(channel, message, thread_ts, metadata)

    def certainly_not_posted(self, error: BaseException) -> bool:
        return self.surface.certainly_not_posted(error)

    async def find_post(self, channel: str, event_type: str, token: str, oldest: datetime) -> str | None:
        return await self.surface.find_post(channel, event_type, token, oldest)  # reading posts nothing

    async def update(self, channel: str, ts: str, message: Message) -> None:
        self._check("edit")
        await self.surface.update(channel, ts, message)

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
        self._check("ephemeral")
        await self.surface.ephemeral(channel, user, message)

    async def upload(self, channel: str, thread_ts: str | None, chart: Chart) -> None:
        self._check("upload")
        await self.surface.upload(channel, thread_ts, chart)

    async def permalink(self, channel: str, ts: str) -> str | None:
        return await self.surface.permalink(channel, ts)


def restoring(surface: Surface) -> Surface:
    """The surface to put back what the leader wrote, which a late edit of this process
    covered: LeaderOnly would refuse it, since this process no longer leads, yet the text
    it writes is the leader's own, not a side effect of leading."""
    return surface.surface if isinstance(surface, LeaderOnly) else surface
