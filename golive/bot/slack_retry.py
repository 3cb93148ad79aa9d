"""Retrying a Slack Web API call that timed out, where repeating it cannot post twice.

slack_sdk's own handlers retry 429 (after Retry-After), 5xx and broken connections, but
not a request that got no answer in time. For an edit or a read that is safe to repeat;
for a post it is not: Slack may have posted before the answer was lost, and a retry
would post the same message twice. Those calls fail instead, and the caller decides
(a run posts its message once more at the end, with the final state).
"""

from __future__ import annotations

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
        method = request.url.rstrip("/").rsplit("/", 1)[-1]
        return isinstance(error, TimeoutError) and method not in POSTING
