"""The Slack surface: posts, edits, ephemeral replies and chart uploads through the Web API."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ..render.blocks import Message

if TYPE_CHECKING:
    from ..render.chart_file import Chart

#: How many messages a search of the channel's history reads at most (pages of 200).
HISTORY_PAGES = 5
HISTORY_PAGE = 200



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

    def certainly_not_posted(self, error: BaseException) -> bool:
        return certainly_not_posted(error)

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


def certainly_not_posted(error: BaseException) -> bool:
    """Whether Slack cannot have posted the message the failed call carried."""
    if isinstance(error, SlackApiError):
        # Slack answered. A refusal (ok: false, 429) posted nothing; a 5xx may come
        # after the post was applied.
        return int(getattr(error.response, "status_code", 200)) < 500
    # No connection was made, so no request reached Slack.
    return isinstance(error, aiohttp.ClientConnectorError | ConnectionRefusedError)
