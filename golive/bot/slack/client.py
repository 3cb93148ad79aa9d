"""Which failed Slack Web API calls the client may repeat on its own.

slack_sdk's own handlers retry 429 (after Retry-After), 5xx and broken connections, but
not a request that got no answer in time; :class:`AsyncTimeoutRetryHandler` adds that.
For an edit or a read, repeating is safe. For a post it is not: Slack may have posted
before the answer was lost, and a retry would post the same message twice. Those calls
fail instead, and the caller decides (a run posts its message once more at the end,
with the final state).

``chat.postMessage`` is not repeated after a broken connection either: the request may
have reached Slack (:func:`may_repeat`, applied by the instrumented client to all its
handlers). A 5xx is repeated, except for golive's notifications: they go through the
outbox (:mod:`golive.bot.core.delivery`), which posts them inside :func:`looked_up_when_in_doubt`
and searches the channel's history before it sends one again, so Slack answering 500
after it applied the post does not double it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

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


#: Posts that are not repeated after a timeout or a broken connection, nor after a 5xx
#: inside :func:`looked_up_when_in_doubt`.
CHECKED_POSTS = frozenset({"chat.postMessage"})

#: Set while the outbox posts: the caller itself settles a post whose outcome is unknown.
_settled_by_caller: ContextVar[bool] = ContextVar("golive_settled_by_caller", default=False)


@contextmanager
def looked_up_when_in_doubt() -> Iterator[None]:
    """Around a post whose caller searches the channel's history when its outcome is
    unknown: the client does not repeat it on any answer but 429."""
    token = _settled_by_caller.set(True)
    try:
        yield
    finally:
        _settled_by_caller.reset(token)


def api_method(request: HttpRequest) -> str:
    return request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def may_repeat(request: HttpRequest, response: HttpResponse | None, error: Exception | None) -> bool:
    """Whether the client may send ``request`` again after this failure without risking
    a second post: always for other methods; for a checked post when Slack certainly did
    not take it (429, or no connection was made), and on a 5xx unless the caller settles
    it (:func:`looked_up_when_in_doubt`)."""
    if api_method(request) not in CHECKED_POSTS:
        return True
    if response is None:
        return isinstance(error, aiohttp.ClientConnectorError)
    return response.status_code == 429 or not _settled_by_caller.get()


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
