"""Every Prometheus metric golive exports, and the instrumented Slack client.

The metrics live in their own :class:`~prometheus_client.CollectorRegistry` (not the
library's global one), so ``/metrics`` shows exactly golive's series and a test can make a
fresh :class:`Metrics` of its own. ``monitoring/golive-rules.yaml`` and
``monitoring/golive-dashboard.json`` are written against these names; a test checks they
use no other.

Labels stay few and bounded: a run's trigger is reduced to its kind (``slack:U123`` is
``slack``), a probe's label is its type, a Slack call's its API method.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aiohttp
import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from ... import __version__
from ...checks.status import Status
from ..slack.client import may_repeat

log = structlog.get_logger(__name__)

# Each counter and histogram would also export a ``_created`` series: twice the lines,
# and no rule or panel uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: Run triggers known in advance; their series exist (at 0) before the first run, so
#: ``increase()`` sees the first one.
TRIGGERS = ("cli", "slack", "schedule")
#: Seconds. Runs take about as long as their slowest probe, which is cut at its timeout.
RUN_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
PROBE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def trigger_kind(trigger: str) -> str:
    """``slack:U0123`` → ``slack``: one series per kind of trigger, not per user."""
    return trigger.partition(":")[0] or "unknown"


class Metrics:
    """golive's metric objects, in a registry of their own; the process has one, METRICS."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build_info = Gauge(
            "golive_build_info", "Always 1; the version is a label.", ["version"], registry=r
        )
        self.build_info.labels(version=__version__).set(1)
        self.runs_started = Counter(
            "golive_runs_started", "Checklist runs started, by trigger.", ["trigger"], registry=r
        )
        self.runs_completed = Counter(
            "golive_runs_completed",
            "Checklist runs that finished and stored a verdict.",
            ["trigger"],
            registry=r,
        )
        self.runs_aborted = Counter(
            "golive_runs_aborted",
            "Runs that did not finish (an error, or shutdown after the grace period); stored as aborted.",
            ["trigger"],
            registry=r,
        )
        self.runs_in_flight = Gauge("golive_runs_in_flight", "Runs in progress in this process.", registry=r)
        self.run_duration = Histogram(
            "golive_run_duration_seconds",
            "Wall time of completed runs, from the start to the results posted.",
            ["trigger"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.last_run_completed = Gauge(
            "golive_run_last_completed_timestamp_seconds",
            "When the newest complete run of the release finished (Unix time; 0 before any).",
            registry=r,
        )
        self.probe_duration = Histogram(
            "golive_probe_duration_seconds",
            "Time an automated probe took, including timeouts and errors.",
            ["probe_type"],
            buckets=PROBE_BUCKETS,
            registry=r,
        )
        self.items = Gauge(
            "golive_items", "Checklist items by status, as of the latest run.", ["status"], registry=r
        )
        self.verdict_go = Gauge("golive_verdict_go", "1 when the latest verdict is GO, else 0.", registry=r)
        self.slack_calls = Counter(
            "golive_slack_api_calls", "Slack Web API calls (retries not counted).", ["method"], registry=r
        )
        self.slack_errors = Counter(
            "golive_slack_api_errors",
            "Slack Web API calls that failed after their retries, by method and Slack's error code.",
            ["method", "error"],
            registry=r,
        )
        self.slack_retries = Counter(
            "golive_slack_api_retries",
            "Slack Web API requests retried (429 after Retry-After, 5xx, connection errors).",
            ["method", "reason"],
            registry=r,
        )
        self.alerts_sent = Counter(
            "golive_alerts_sent", "Regression alerts, resolutions and reminders posted.", ["kind"], registry=r
        )
        self.leader = Gauge(
            "golive_leader", "1 when this process runs schedules and sends notifications.", registry=r
        )
        self.slack_socket_connected = Gauge(
            "golive_slack_socket_connected",
            "In Socket Mode, 1 while the connection to Slack is up (events arrive), else 0.",
            registry=r,
        )
        self.schedule_active = Gauge(
            "golive_schedule_active",
            "1 while a schedule is configured and inside its release window, else 0.",
            registry=r,
        )
        for trigger in TRIGGERS:
            for family in (self.runs_started, self.runs_completed, self.runs_aborted, self.run_duration):
                family.labels(trigger=trigger)
        self.set_items(())

    def set_items(self, statuses: Iterable[Status]) -> None:
        """Set the per-status item counts; statuses not given are 0, so every series exists."""
        counts = dict.fromkeys(Status, 0)
        for status in statuses:
            counts[status] += 1
        for status, count in counts.items():
            self.items.labels(status=str(status)).set(count)


METRICS = Metrics()


def _method_of(request: HttpRequest) -> str:
    return request.url.split("?", 1)[0].rsplit("/", 1)[-1]


class CountingRetryHandler(AsyncRetryHandler):
    """Wraps one of slack_sdk's retry handlers and counts the retries it asks for. A post
    that Slack may have taken is not repeated, whichever handler would
    (:func:`~golive.bot.slack.client.may_repeat`)."""

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
        self.metrics.slack_retries.labels(method=_method_of(request), reason=reason).inc()
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
