"""Whether Slack is usable, for ``/readyz``: the token works (HTTP mode) or the socket is
connected (Socket Mode). Both implement :class:`golive.bot.serve.readiness.SlackLink`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

log = structlog.get_logger(__name__)


class SlackAuth:
    """HTTP mode: Slack reaches us, so all we can check is that our token works. Calls
    ``auth.test`` until it succeeds once, backing off up to a minute."""

    def __init__(self, client: AsyncWebClient, *, first_delay: float = 1.0, max_delay: float = 60.0) -> None:
        self.client = client
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.reason: str | None = "auth.test has not answered yet"

    async def problem(self) -> str | None:
        return self.reason

    async def keep_trying(self) -> None:
        delay = self.first_delay
        while True:
            try:
                answer = await self.client.auth_test()
            except SlackApiError as exc:
                self.reason = f"auth.test failed: {exc.response.get('error') or exc.response.status_code}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.reason = f"auth.test failed: {type(exc).__name__}"
            else:
                self.reason = None
                log.info("connected to Slack", team=answer.get("team"), bot_user=answer.get("user_id"))
                return
            log.warning("Slack is not reachable yet", reason=self.reason, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)


@dataclass
class SlackSocket:
    """Socket Mode: Slack sends us events over the socket, so it must be connected."""

    client: AsyncBaseSocketModeClient

    async def problem(self) -> str | None:
        connected: bool = await self.client.is_connected()
        return None if connected else "the Socket Mode connection is down"


def checked_token(client: AsyncWebClient, background: list[asyncio.Task[None]]) -> SlackAuth:
    """HTTP mode: ready once auth.test succeeds, asked in the background until it does."""
    auth = SlackAuth(client)
    background.append(asyncio.create_task(auth.keep_trying()))
    return auth
