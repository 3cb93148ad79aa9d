"""Every Prometheus metric golive exports.

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

from ... import __version__
from ...checks.status import Status

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
        self.console_messages = Counter(
            "golive_console_messages",
            "Messages golive serve without Slack logged instead of posting, by kind "
            "(post, edit, ephemeral, chart).",
            ["kind"],
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
