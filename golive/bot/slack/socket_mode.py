"""Socket Mode: Slack's events over a WebSocket this process opens.

slack_sdk's aiohttp client asks ``apps.connections.open`` for a URL once and, when
connecting with it fails, retries that same URL every ``ping_interval`` seconds. Slack's
connection URLs are short-lived tickets: after a drop the old one is refused, so the
client never gets back. :class:`FreshSocketClient` asks for a new URL before every
attempt, waits longer after each failure (doubling, up to ``max_retry`` seconds), and
logs each failure, and each frame that is not JSON, as one line rather than a traceback.
``/readyz`` and ``golive_slack_socket_connected`` say when the socket is down.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import structlog
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from ..ops.metrics import METRICS

log = structlog.get_logger(__name__)
#: Seconds between pings; a connection silent for four of them counts as dropped.
PING_INTERVAL = 10.0
FIRST_RETRY = 1.0
MAX_RETRY = 30.0


class FreshSocketClient(SocketModeClient):
    def __init__(
        self,
        *args: Any,
        first_retry: float = FIRST_RETRY,
        max_retry: float = MAX_RETRY,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.first_retry = first_retry
        self.max_retry = max_retry

    async def close(self) -> None:
        await super().close()  # type: ignore[no-untyped-call]

    def connected(self) -> bool:
        session = self.current_session
        return not self.closed and not self.stale and session is not None and not session.closed

    async def connect(self) -> None:
        """Connect, with a fresh URL for every attempt (one that ``connect_to_new_endpoint``
        just asked for is used once), until connected or closed."""
        delay = self.first_retry
        while not self.closed:
            url, self.wss_uri = self.wss_uri, None
            try:
                await self._open(url or await self.issue_new_wss_url())
                return
            except Exception as exc:  # refused ticket, reset, DNS, Slack API error
                if self.closed:
                    return
                log.warning(
                    "Socket Mode: could not connect; asking Slack for a new URL",
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
                delay = min(self.max_retry, delay * 2)

    async def _open(self, url: str) -> None:
        """What slack_sdk's ``connect`` does once: replace the session and start the
        tasks that watch and read it."""
        old = self.current_session
        self.auto_reconnect_enabled = False
        if old is not None:
            try:
                await asyncio.wait_for(old.close(), self.ping_interval)
            except Exception as exc:  # a broken session may not close cleanly; it is dropped anyway
                log.info("Socket Mode: the old connection did not close cleanly", error=type(exc).__name__)
        if self.aiohttp_client_session.closed:
            self.aiohttp_client_session = aiohttp.ClientSession()
        self.current_session = await self.aiohttp_client_session.ws_connect(
            url,
            autoping=False,
            heartbeat=self.ping_interval,
            proxy=self.proxy,
            ssl=self.web_client.ssl if self.web_client.ssl is not None else True,
        )
        self.auto_reconnect_enabled = self.default_auto_reconnect_enabled
        self.stale = False
        self.last_ping_pong_time = None
        await self.current_session.ping(f"sdk-ping-pong:{time.time()}".encode())
        for task in (self.current_session_monitor, self.message_receiver):
            if task is not None:
                task.cancel()
        self.current_session_monitor = asyncio.ensure_future(self.monitor_current_session())
        self.message_receiver = asyncio.ensure_future(self.receive_messages())
        log.info("Socket Mode: connected")

    async def process_message(self) -> None:
        raw = await self.message_queue.get()
        if raw is None:
            return
        try:
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise ValueError("not a JSON object")
        except ValueError:
            # Its content is not logged: a frame may carry a payload with secrets.
            log.warning("Socket Mode: ignored a frame that is not a JSON object", length=len(raw))
            return
        asyncio.ensure_future(self.run_message_listeners(message, raw))  # noqa: RUF006 (the SDK's way)


def socket_client(
    app: AsyncApp, app_token: str, web_client: AsyncWebClient, **options: Any
) -> FreshSocketClient:
    """A client delivering Slack's requests to the Bolt app and acking them, as Bolt's
    own handler does."""
    client = FreshSocketClient(
        app_token=app_token,
        web_client=web_client,
        ping_interval=options.pop("ping_interval", PING_INTERVAL),
        **options,
    )

    async def handle(socket: SocketModeClient, request: SocketModeRequest) -> None:
        started = time.time()
        response = await run_async_bolt_app(app, request)
        if response.status == 403:
            # Refused (another workspace): acked with nothing, so that Slack does not
            # deliver the envelope again; nothing was done with it.
            await socket.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
            return
        await send_async_response(socket, request, response, started)

    client.socket_mode_request_listeners.append(handle)  # type: ignore[arg-type]
    METRICS.slack_socket_connected.set_function(lambda: 1.0 if client.connected() else 0.0)
    return client
