"""Where the bot's messages go: Slack, or the console when there are no Slack credentials.

Both take the same :class:`~golive.bot.render.blocks.Message` and :class:`~golive.bot.render.charts.Chart`
values, so everything the bot would post in Slack can be seen (and tested) without it.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from slack_sdk.web.async_client import AsyncWebClient

from ..render.blocks import Message, plain
from ..render.charts import Chart

#: How many messages a search of the channel's history reads at most (pages of 200).
HISTORY_PAGES = 5
HISTORY_PAGE = 200


class Surface(Protocol):
    async def post(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str: ...

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


class NotLeading(Exception):
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


class SlackSurface:
    """The Slack Web API. The client carries the retry handlers (429, 5xx, connection)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        response = await self.client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            metadata=metadata,
        )
        return str(response["ts"])

    async def find_post(self, channel: str, event_type: str, token: str, oldest: datetime) -> str | None:
        # Needs channels:history (groups:history in a private channel). Message metadata
        # is only in the answer with include_all_metadata.
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            response = await self.client.conversations_history(
                channel=channel,
                oldest=f"{oldest.timestamp():.6f}",
                include_all_metadata=True,
                limit=HISTORY_PAGE,
                cursor=cursor,
            )
            for found in response.get("messages") or []:
                metadata = found.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == event_type and payload.get("token") == token:
                    return str(found["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or cursor is None:
                return None
        return None

    async def update(self, channel: str, ts: str, message: Message) -> None:
        await self.client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
        await self.client.chat_postEphemeral(
            channel=channel, user=user, text=message.text, blocks=message.blocks
        )

    async def upload(self, channel: str, thread_ts: str | None, chart: Chart) -> None:
        await self.client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=chart.png,
            filename=chart.filename,
            title=chart.title,
            alt_txt=chart.alt_text,
        )

    async def permalink(self, channel: str, ts: str) -> str | None:
        response = await self.client.chat_getPermalink(channel=channel, message_ts=ts)
        link = response.get("permalink")
        return str(link) if link else None


class ConsoleSurface:
    """Prints each message as readable text and writes chart PNGs to a folder."""

    def __init__(self, folder: Path, out: TextIO | None = None, *, show_edits: bool = False) -> None:
        self.folder = folder
        self.out = out or sys.stdout
        self.show_edits = show_edits
        self._ts = itertools.count(1)
        self._pending: dict[tuple[str, str], Message] = {}
        self.charts: list[Path] = []

    def _print(self, heading: str, message: Message) -> None:
        self.out.write(f"\n── {heading} ──\n{plain(message)}\n")
        self.out.flush()

    def flush(self) -> None:
        """Print the latest version of every edited message: a terminal cannot edit in
        place, so intermediate progress edits are folded into their final state."""
        for (channel, ts), message in self._pending.items():
            self._print(f"edit {channel} ts {ts}", message)
        self._pending.clear()

    async def post(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        self.flush()
        ts = f"{next(self._ts)}.000000"
        where = f"{channel}, thread {thread_ts}" if thread_ts else channel
        self._print(f"post to {where} (ts {ts})", message)
        return ts

    async def find_post(self, channel: str, event_type: str, token: str, oldest: datetime) -> str | None:
        return None  # printing cannot fail halfway: nothing printed is ever in doubt

    async def update(self, channel: str, ts: str, message: Message) -> None:
        if self.show_edits:
            self._print(f"edit {channel} ts {ts}", message)
        else:
            self._pending[(channel, ts)] = message

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
        self.flush()
        self._print(f"only for {user} in {channel}", message)

    async def upload(self, channel: str, thread_ts: str | None, chart: Chart) -> None:
        self.flush()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / chart.filename
        path.write_bytes(chart.png)
        self.charts.append(path)
        self.out.write(
            f"\n── chart for {channel}, thread {thread_ts}: {path} ──\n{chart.title}\n{chart.alt_text}\n"
        )
        self.out.flush()

    async def permalink(self, channel: str, ts: str) -> str | None:
        return None  # a terminal has no links to messages
