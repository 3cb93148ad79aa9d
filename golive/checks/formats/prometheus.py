"""Prometheus' HTTP API read without I/O: the response envelope, query results, rules,
targets and the effective retention. :mod:`.prometheus` does the requests.

Wire facts this leans on (Prometheus ``docs/querying/api.md``, ``web/web.go``, checked
against a real 2.42):

- every API answer is ``{"status": "success"|"error", "data", "errorType", "error",
  "warnings", "infos"}``; 400 is a bad parameter (a PromQL syntax error), 422 a query that
  cannot execute, 503 a timeout or a server that is not ready yet;
- sample values are strings, ``"NaN"`` and ``"+Inf"`` included; an empty vector means
  no series matched, which is not the value 0;
- ``storageRetention`` of ``/api/v1/status/runtimeinfo`` is the retention in effect,
  written by Go: ``"1w"`` (seven days print as a week), ``"30d or 1GiB512MiB"``, or a
  size alone when only ``--storage.tsdb.retention.size`` is set (then no time limit
  applies). The flags say ``"0s"`` when unset, and Prometheus then keeps 15 days.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..clients.monitoring import Answer
from ..errors import PermanentProbeError, TemporaryProbeError

SERVICE = "Prometheus"
DEFAULT_RETENTION_DAYS = 15.0

_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_DAYS = (365.0, 7.0, 1.0, 1 / 24, 1 / 1440, 1 / 86400, 1 / 86_400_000)
_SIZE_PART = re.compile(r"(\d+(?:\.\d+)?)([KMGTPE]i?B|B)")
# Prometheus parses sizes with alecthomas/units' base-2 parser: "512MB" is 512 MiB too.
_SIZE_FACTOR = {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60}
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


def api_data(answer: Answer, what: str) -> Any:
    """The ``data`` of a successful answer, or a ProbeError with Prometheus' own reason."""
    body = answer.json(SERVICE) if answer.content.lstrip()[:1] == b"{" else None
    if isinstance(body, dict) and body.get("status") == "success":
        # Every endpoint golive reads (query, rules, targets, status) answers an object.
        if not isinstance(body.get("data"), dict):
            return _raise(f"{SERVICE} answered {what} with a 'data' that is not an object", False)
        return body["data"]
    if isinstance(body, dict) and body.get("status") == "error":
        kind = body.get("errorType") or "error"
        temporary = answer.status >= 500 or kind in ("timeout", "canceled", "unavailable", "internal")
        return _raise(f"{SERVICE} rejected {what}: {kind}: {body.get('error', '')}", temporary)
    if answer.status == 503:  # not ready yet (WAL replay) or shutting down: plain text
        return _raise(f"{SERVICE} at {answer.url} is not ready (HTTP 503)", True)
    return _raise(
        f"{SERVICE} at {answer.url} answered HTTP {answer.status} without the API's envelope; "
        "is url the base URL of Prometheus?",
        answer.status >= 500,
    )


def _raise(message: str, temporary: bool) -> Any:
    raise (TemporaryProbeError if temporary else PermanentProbeError)(message)


def warnings_of(answer: Answer) -> list[str]:
    body = answer.json(SERVICE)
    if not isinstance(body, dict):
        return []
    return [str(w) for key in ("warnings", "infos") for w in body.get(key) or []]


def sample_value(raw: Any) -> float | str:
    """``"0.25"`` → 0.25. ``"NaN"`` and ``"±Inf"`` stay Prometheus' strings: conditions read
    them as numbers (NaN satisfies no limit), and JSON, which has no NaN, can carry them."""
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise PermanentProbeError(f"{SERVICE} sent a sample value that is not a number: {raw!r}") from None
    if math.isfinite(number):
        return number
    return "NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf")


def series_key(metric: Mapping[str, str]) -> str:
    """A series as PromQL writes it: ``up{instance="a:9090",job="api"}``, ``{job="api"}``."""
    name = metric.get("__name__", "")
    labels = ",".join(
        f'{key}="{_escape(value)}"' for key, value in sorted(metric.items()) if key != "__name__"
    )
    return f"{name}{{{labels}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True)
class QueryResult:
    result_type: str
    #: Series key → value; a scalar or string has the single key "".
    values: dict[str, float | str]

    @property
    def single(self) -> float | str | None:
        return next(iter(self.values.values())) if len(self.values) == 1 else None


def parse_query(data: Any, query: str) -> QueryResult:
    if not isinstance(data, dict) or "resultType" not in data:
        raise PermanentProbeError(f"{SERVICE} answered the query without resultType")
    kind, result = data["resultType"], data.get("result")
    if kind in ("scalar", "string"):
        value = result[1] if isinstance(result, list) and len(result) == 2 else None
        return QueryResult(kind, {"": sample_value(value) if kind == "scalar" else str(value)})
    if kind == "matrix":
        raise PermanentProbeError(
            f"the query {query!r} returns a range vector; conditions need an instant value: "
            "wrap it, e.g. max_over_time(…) or rate(…)"
        )
    if kind != "vector" or not isinstance(result, list):
        raise PermanentProbeError(f"{SERVICE} answered the query with an unknown result type {kind!r}")
    values: dict[str, float | str] = {}
    for sample in result:
        if "histogram" in sample:
            raise PermanentProbeError(
                f"the query {query!r} returns native histogram samples; reduce them to numbers, "
                "e.g. histogram_quantile(0.95, …) or histogram_count(…)"
            )
        values[series_key(sample.get("metric") or {})] = sample_value((sample.get("value") or [0, None])[1])
    return QueryResult(kind, values)


def show_number(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.6g}"


# -- retention ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    text: str
    days: float | None = None
    size_bytes: int | None = None
    percent: float | None = None
    notes: list[str] = field(default_factory=list)


def parse_retention(text: str) -> Retention:
    """``storageRetention`` as Prometheus writes it: time, size, share of disk, ``or``-ed."""
    days: float | None = None
    size: int | None = None
    percent: float | None = None
    for part in (p.strip() for p in text.split(" or ")):
        if (parsed_days := parse_duration_days(part)) is not None:
            days = parsed_days
        elif (parsed_size := parse_size(part)) is not None:
            size = parsed_size
        elif (match := _PERCENT.fullmatch(part)) is not None:
            percent = float(match.group(1))
        else:
            raise PermanentProbeError(
                f"cannot read the retention {text!r}: {part!r} is no duration, size or share"
            )
    notes = []
    if days is None:
        notes.append("no time limit, only a size limit: how many days that holds depends on the load")
    return Retention(text, days, size, percent, notes)


def agent_mode(flags: Mapping[str, Any]) -> bool:
    """Prometheus in agent mode keeps no TSDB to query (2.x ``--enable-feature=agent``,
    3.x ``--agent``); its retention flags all read 0 and mean nothing."""
    features = str(flags.get("enable-feature") or "").split(",")
    return str(flags.get("agent")).lower() == "true" or "agent" in (f.strip() for f in features)


def retention_from_flags(flags: Mapping[str, Any]) -> Retention:
    """What ``cmd/prometheus`` decides from the flags: 0 for both means the 15d default."""
    time = str(flags.get("storage.tsdb.retention.time") or "0s")
    # The pre-2.8 flag, honoured until 3.0 when the new one is unset.
    if _zero(time):
        time = str(flags.get("storage.tsdb.retention") or "0s")
    size = str(flags.get("storage.tsdb.retention.size") or "0B")
    if _zero(time) and _zero(size):
        return Retention(
            "15d", DEFAULT_RETENTION_DAYS, notes=["no retention flag set: Prometheus' default of 15d applies"]
        )
    parts = [p for p in (time, size) if not _zero(p)]
    return parse_retention(" or ".join(parts))


def _zero(value: str) -> bool:
    days = parse_duration_days(value)
    size = parse_size(value)
    return value in ("", "0") or days == 0 or size == 0


def parse_duration_days(text: str) -> float | None:
    """A Prometheus duration (``1y2w3d4h5m6s7ms``) in days; None if it is not one."""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        return None
    return sum(int(n) * f for n, f in zip(match.groups(), _DURATION_DAYS, strict=True) if n)


def parse_size(text: str) -> int | None:
    """A size as Prometheus prints or accepts it (``1GiB512MiB``, ``512MB``) in bytes."""
    parts = _SIZE_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        return None
    return round(sum(float(n) * _SIZE_FACTOR[u[0]] for n, u in parts))


# -- rules and targets --------------------------------------------------------------------


@dataclass
class RuleSummary:
    groups: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    alerting: int = 0
    recording: int = 0
    unhealthy: list[str] = field(default_factory=list)
    firing_alerts: int = 0
    firing_rules: list[str] = field(default_factory=list)


def summarise_rules(data: Any, rule_type: str | None) -> RuleSummary:
    summary = RuleSummary()
    wanted = {"alert": "alerting", "record": "recording"}.get(rule_type or "")
    for group in (data or {}).get("groups") or []:
        rules = [r for r in group.get("rules") or [] if wanted is None or r.get("type") == wanted]
        if wanted is not None and not rules:
            continue  # a group of the other kind, returned by a server that ignores ?type=
        summary.groups.append(str(group.get("name")))
        for rule in rules:
            name = str(rule.get("name"))
            summary.names.add(name)
            if rule.get("type") == "alerting":
                summary.alerting += 1
                firing = [a for a in rule.get("alerts") or [] if a.get("state") == "firing"]
                summary.firing_alerts += len(firing)
                if firing and name not in summary.firing_rules:
                    summary.firing_rules.append(name)
            else:
                summary.recording += 1
            health = rule.get("health")
            if health != "ok":
                reason = rule.get("lastError") or (
                    "not evaluated yet" if health == "unknown" else f"health {health}"
                )
                summary.unhealthy.append(f"{group.get('name')}/{name}: {reason}")
    return summary


@dataclass
class TargetSummary:
    up: int = 0
    down: int = 0
    unknown: int = 0
    down_targets: list[str] = field(default_factory=list)
    jobs: dict[str, dict[str, int]] = field(default_factory=dict)


def summarise_targets(data: Any, jobs: list[str]) -> TargetSummary:
    summary = TargetSummary()
    for target in (data or {}).get("activeTargets") or []:
        labels = target.get("labels") or {}
        job = str(labels.get("job") or target.get("scrapePool") or "")
        if jobs and job not in jobs:
            continue
        health = target.get("health")
        state = health if health in ("up", "down") else "unknown"
        counts = summary.jobs.setdefault(job, {"up": 0, "down": 0, "unknown": 0})
        counts[state] += 1
        if state == "up":
            summary.up += 1
        elif state == "down":
            summary.down += 1
            where = labels.get("instance") or target.get("scrapeUrl") or "?"
            summary.down_targets.append(f"{job} {where}: {target.get('lastError') or 'down'}")
        else:
            summary.unknown += 1
    return summary


# -- configuration reloads ----------------------------------------------------------------


@dataclass(frozen=True)
class ConfigState:
    """What ``/api/v1/status/runtimeinfo`` says of the configuration. After a failed
    reload Prometheus keeps serving the rules and targets of the last good load:
    ``reloadConfigSuccess`` turns false and ``lastConfigTime`` stays at that load."""

    #: None where the server does not say (no runtimeinfo, or no such field).
    reload_ok: bool | None
    loaded_at: str | None

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if self.reload_ok is not None:
            values["CONFIG_RELOAD_OK"] = self.reload_ok
        if self.loaded_at:
            values["CONFIG_LOADED_AT"] = self.loaded_at
        return values

    def note(self, shown: str, seen_at: str) -> str | None:
        """The sentence a message leads with when the last reload failed, else None."""
        if self.reload_ok is not False:
            return None
        since = (
            f"the configuration loaded at {self.loaded_at}" if self.loaded_at else "an earlier configuration"
        )
        return f"the last configuration reload failed (seen at {seen_at}); the {shown} shown are from {since}"


def config_state(info: Any) -> ConfigState:
    if not isinstance(info, dict):
        return ConfigState(None, None)
    ok = info.get("reloadConfigSuccess")
    loaded_at = info.get("lastConfigTime")
    return ConfigState(
        ok if isinstance(ok, bool) else None,
        loaded_at if isinstance(loaded_at, str) and loaded_at else None,
    )
