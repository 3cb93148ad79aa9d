"""Which failed Slack Web API calls the client may repeat on its own.

slack_sdk's own handlers retry 429 (after Retry-After), 5xx and broken connections, but
not a request that got no answer in time; :class:`AsyncTimeoutRetryHandler` adds that.
For an edit or a read, repeating is safe. For a post it is not: Slack may have posted
before the answer was lost, and a retry would post the same message twice. Those calls
fail instead, and the caller decides (a run posts its message once more at the end,
with the final state).

``chat.postMessage`` is held to that for every failure after the request may have
reached Slack: a broken connection and a 5xx too (:func:`may_repeat`, applied by the
instrumented client to all its handlers). golive's notifications go through the
outbox (:mod:`golive.bot.delivery`), which searches the channel's history for the post
before it sends it again.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

#: Methods whose repetition is visible: a second message, file share or modal.
POSTING = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.scheduleMessage",
        "files.completeUploadExternal",
        "views.open",
    }
)


#: Posts that are never repeated blindly: not on a timeout, a broken connection or a 5xx.
CHECKED_POSTS = frozenset({"chat.postMessage"})


def api_method(request: HttpRequest) -> str:
    return request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def may_repeat(request: HttpRequest, response: HttpResponse | None, error: Exception | None) -> bool:
    """Whether the client may send ``request`` again after this failure without risking
    a second post: always for other methods; for a checked post only when Slack
    certainly did not take it (429, or no connection was made)."""
    if api_method(request) not in CHECKED_POSTS:
        return True
    if response is not None:
        return response.status_code == 429
    return isinstance(error, aiohttp.ClientConnectorError)


class AsyncTimeoutRetryHandler(AsyncRetryHandler):
    def __init__(self, max_retry_count: int = 2) -> None:
        super().__init__(
            max_retry_count=max_retry_count,
            interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=0.5),
        )

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return isinstance(error, TimeoutError) and api_method(request) not in POSTING
