"""The one place that builds the Slack Web client: which failed calls it may repeat on its
own, and the counting of its calls, errors and retries.

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

from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from ..core.delivery import settled_by_caller
from ..ops.metrics import METRICS, Metrics

log = structlog.get_logger(__name__)

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
    return response.status_code == 429 or not settled_by_caller()


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


class CountingRetryHandler(AsyncRetryHandler):
    """Wraps one of slack_sdk's retry handlers and counts the retries it asks for. A post
    that Slack may have taken is not repeated, whichever handler would
    (:func:`may_repeat`)."""

    def __init__(self, inner: AsyncRetryHandler, metrics: Metrics) -> None:
        super().__init__(max_retry_count=inner.max_retry_count, interval_calculator=inner.interval_calculator)
        self.inner = inner
        self.metrics = metrics

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not may_repeat(request, response, error):
            return False
        return await self.inner.can_retry_async(state=state, request=request, response=response, error=error)

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            reason = "connection"
        elif response.status_code == 429:
            reason = "ratelimited"
        else:
            reason = f"http_{response.status_code}"
        self.metrics.slack_retries.labels(method=api_method(request), reason=reason).inc()
        await self.inner.prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


class InstrumentedWebClient(AsyncWebClient):
    """An ``AsyncWebClient`` that counts calls, failures and retries per API method.

    Every Web API method of the SDK goes through :meth:`api_call`, so overriding it
    covers every call golive makes: the surface, the approvers' user-group lookups,
    ``views.open``, Socket Mode's ``apps.connections.open``. (Bolt hands listeners a plain
    per-request copy as their ``client`` argument; golive's listeners use the bot's.)
    """

    def __init__(self, *args: Any, metrics: Metrics = METRICS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics
        self.retry_handlers = [CountingRetryHandler(h, metrics) for h in self.retry_handlers]

    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | aiohttp.FormData | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncSlackResponse:
        self.metrics.slack_calls.labels(method=api_method).inc()
        try:
            return await super().api_call(
                api_method,
                http_verb=http_verb,
                files=files,
                data=data,
                params=params,
                json=json,
                headers=headers,
                auth=auth,
            )
        except SlackApiError as exc:
            self._failed(api_method, _slack_error(exc))
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._failed(api_method, type(exc).__name__)
            raise

    def _failed(self, method: str, error: str) -> None:
        self.metrics.slack_errors.labels(method=method, error=error).inc()
        log.warning("slack api call failed", method=method, error=error)


def _slack_error(exc: SlackApiError) -> str:
    response = exc.response
    code = response.get("error") if isinstance(response.data, dict) else None
    return str(code) if code else f"http_{response.status_code}"


def web_client(token: str, api_url: str) -> AsyncWebClient:
    """A client that retries what is worth retrying: 429 after Retry-After, 500/503, resets;
    and counts its calls, errors and retries (golive_slack_api_* metrics)."""
    return InstrumentedWebClient(
        token=token,
        base_url=api_url,
        timeout=15,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncTimeoutRetryHandler(max_retry_count=2),
        ],
    )
