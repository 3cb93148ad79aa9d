"""The four shapes a k6 result comes in, parsed without I/O.

- ``machine-readable``: ``--new-machine-readable-summary`` (k6 ≥ 1.5), ``version`` +
  ``results``; metrics are a list, rates are ``{matches, rate, total}``, counters only
  ``{count}``, trends never carry ``p(99)``, and there are **no threshold results**.
  k6 writes the trend percentiles as ``p90``/``p95`` and the metadata as
  ``generated_at``/``k6_version``; the published schema spells them ``p(95)`` and
  ``generatedAt``. Both spellings are read.
- ``handle-summary``: the ``handleSummary(data)`` argument, ``metrics.<name>.values``;
  thresholds ``{"p(95)<500": {"ok": true}}``; groups and checks are arrays.
- ``summary-export``: ``--summary-export``, flat ``metrics.<name>``; rates say ``value``
  instead of ``rate``; thresholds are booleans where **true means FAILED** (k6 stores
  ``!ok``, issue loadimpact/k6#1498); groups and checks are objects keyed by name.
- ``json-output``: ``--out json`` NDJSON (maybe gzip), one Metric or Point per line; the
  trend statistics are computed here from the samples. Thresholds are only declared in
  it, not evaluated, so none are reported.

In every format ``http_req_failed`` is a rate whose *true* samples are failed requests:
its ``passes`` / ``matches`` count FAILED requests, not successful ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import PermanentProbeError
from .documents import (
    GZIP_MAGIC,
    decode_text,
    gunzip,
    mapping,
    number,
    optional_mapping,
    optional_sequence,
    parse_json_text,
    sequence,
    timestamp,
)
from .k6_samples import read_samples, trend_stats

#: The same trend statistics as the machine-readable summary of k6 ≥ 1.5 writes them.
TREND_ALIASES = {"p(90)": "p90", "p(95)": "p95", "p(99)": "p99"}
#: Trend statistic (k6's key) → observed value.
TREND_VALUES = {
    "p(90)": "P90_MS",
    "p(95)": "P95_MS",
    "p(99)": "P99_MS",
    "avg": "AVG_MS",
    "med": "MED_MS",
    "max": "MAX_MS",
}


@dataclass(frozen=True)
class MetricNames:
    duration: str = "http_req_duration"
    failed: str = "http_req_failed"
    requests: str = "http_reqs"


@dataclass
class K6Result:
    """What one k6 document says, whatever its format; None means "not in it"."""

    format: str
    trend: dict[str, float] = field(default_factory=dict)
    error_fraction: float | None = None
    failed_requests: float | None = None
    requests: float | None = None
    rps: float | None = None
    duration_s: float | None = None
    #: metric → threshold source → passed; None when the format has no threshold results.
    thresholds: dict[str, dict[str, bool]] | None = None
    #: Why no threshold was evaluated (none declared, or the format carries no results).
    unjudged: str | None = None
    checks: tuple[int, int] | None = None  # (passed, failed)
    produced_at: datetime | None = None
    notes: list[str] = field(default_factory=list)

    def values(self) -> dict[str, Any]:
        """The observed values; a value the document does not carry is left out, not 0."""
        values: dict[str, Any] = {"FORMAT": self.format}
        for key, name in TREND_VALUES.items():
            if key in self.trend:
                values[name] = self.trend[key]
        optional = {
            "ERROR_RATE": None if self.error_fraction is None else round(self.error_fraction * 100, 9),
            "FAILED_REQUESTS": _whole(self.failed_requests),
            "REQUESTS": _whole(self.requests),
            "RPS": self.rps,
            "DURATION_S": self.duration_s,
        }
        values.update({k: v for k, v in optional.items() if v is not None})
        if self.checks is not None:
            values["CHECKS_PASSED"], values["CHECKS_FAILED"] = self.checks
        failed = self.failed_thresholds()
        # Empty when nothing failed, also when nothing was evaluated: that case is a WARN
        # of its own (see `unjudged`), and the latency, error and throughput values are
        # judged by their own conditions either way.
        values["THRESHOLDS_FAILED"] = failed
        if self.thresholds is not None:
            values["THRESHOLDS"] = self.thresholds
            # Observed only when there is at least one threshold result: a run that
            # declares no thresholds has not "met its thresholds", it has none.
            if any(self.thresholds.values()):
                values["THRESHOLDS_OK"] = not failed
        return values

    def failed_thresholds(self) -> list[str]:
        return [
            f"{metric}: {source}"
            for metric, results in sorted((self.thresholds or {}).items())
            for source, ok in results.items()
            if not ok
        ]


def parse_k6(content: bytes, source: str, names: MetricNames, max_bytes: int) -> K6Result:
    """Detect the format of a k6 document and read it."""
    if content.startswith(GZIP_MAGIC):
        content = gunzip(content, max_bytes, source)
    text = decode_text(content, source)
    # Only "\n" ends a line of --out json; splitlines() would also cut at U+2028 inside strings.
    lines = text.split("\n")
    filled = [line for line in lines if line.strip()]
    head: Any = None
    if filled:
        try:
            head = json.loads(filled[0])
        except (json.JSONDecodeError, RecursionError):
            head = None
    if isinstance(head, dict) and head.get("type") in ("Metric", "Point"):
        return _json_output(lines, source, names)
    single_line = len(filled) == 1 and head is not None  # compact JSON: parsed already
    document = head if single_line else parse_json_text(text, source, "k6 summary")
    if not isinstance(document, dict):
        raise PermanentProbeError(f"{source}: not a k6 summary: the top level is not a JSON object")
    if "version" in document and "results" in document:
        return _machine_readable(document, source, names)
    metrics = document.get("metrics")
    if isinstance(metrics, dict):
        # The export deletes `options` and `state` and flattens `values` away.
        nested = any(isinstance(m, dict) and isinstance(m.get("values"), dict) for m in metrics.values())
        if nested or "state" in document or "options" in document:
            return _handle_summary(document, metrics, source, names)
        return _summary_export(document, metrics, source, names)
    raise PermanentProbeError(
        f"{source}: not a k6 summary: expected 'metrics' (handleSummary or --summary-export), "
        "'version' and 'results' (machine-readable summary) or --out json lines"
    )


def _handle_summary(
    document: dict[str, Any], metrics: dict[str, Any], source: str, names: MetricNames
) -> K6Result:
    def values_of(name: str) -> dict[str, Any] | None:
        if name not in metrics:
            return None
        metric = mapping(metrics[name], f"metrics.{name}", source)
        return mapping(metric.get("values"), f"metrics.{name}.values", source)

    result = K6Result("handle-summary", thresholds={})
    _read_common(result, values_of, rate_key="rate", names=names)
    state = optional_mapping(document.get("state"), "state", source)
    duration_ms = number(state.get("testRunDurationMs"))
    if duration_ms is not None:
        result.duration_s = duration_ms / 1000
    assert result.thresholds is not None
    for name, metric in metrics.items():
        declared = mapping(metric, f"metrics.{name}", source).get("thresholds")
        for threshold, outcome in optional_mapping(declared, f"metrics.{name}.thresholds", source).items():
            where = f"metrics.{name}.thresholds[{threshold!r}]"
            ok = mapping(outcome, where, source).get("ok")
            if not isinstance(ok, bool):
                raise PermanentProbeError(f"{source}: {where}.ok should be true or false")
            result.thresholds.setdefault(name, {})[threshold] = ok
    result.checks = _group_checks(document.get("root_group"), "root_group", source)
    _note_thresholds(result)
    return result


def _summary_export(
    document: dict[str, Any], metrics: dict[str, Any], source: str, names: MetricNames
) -> K6Result:
    def values_of(name: str) -> dict[str, Any] | None:
        return mapping(metrics[name], f"metrics.{name}", source) if name in metrics else None

    result = K6Result("summary-export", thresholds={})
    _read_common(result, values_of, rate_key="value", names=names)
    if result.duration_s is None and result.requests and result.rps:
        # The export drops `state`; k6 computed the counter rate as count / duration.
        result.duration_s = round(result.requests / result.rps, 3)
    assert result.thresholds is not None
    for name, metric in metrics.items():
        declared = mapping(metric, f"metrics.{name}", source).get("thresholds")
        for threshold, failed in optional_mapping(declared, f"metrics.{name}.thresholds", source).items():
            if not isinstance(failed, bool):
                raise PermanentProbeError(
                    f"{source}: metrics.{name}.thresholds[{threshold!r}] should be true or false"
                )
            result.thresholds.setdefault(name, {})[threshold] = not failed  # inverted
    result.checks = _group_checks(document.get("root_group"), "root_group", source)
    _note_thresholds(result)
    return result


def _machine_readable(document: dict[str, Any], source: str, names: MetricNames) -> K6Result:
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith("1."):
        raise PermanentProbeError(
            f"{source}: machine-readable k6 summary version {version!r} is not supported "
            "(this probe reads 1.x)"
        )
    results = mapping(document["results"], "results", source)
    by_name: dict[str, dict[str, Any]] = {}
    for index, raw in enumerate(sequence(results.get("metrics"), "results.metrics", source)):
        metric = mapping(raw, f"results.metrics[{index}]", source)
        if isinstance(metric.get("name"), str):
            by_name[metric["name"]] = metric

    def values_of(name: str) -> dict[str, Any] | None:
        if name not in by_name:
            return None
        return mapping(by_name[name].get("values"), f"results.metrics[{name}].values", source)

    result = K6Result("machine-readable")
    _read_common(result, values_of, rate_key="rate", names=names)
    failed = values_of(names.failed)
    if failed is not None:
        result.failed_requests = number(failed.get("matches"))
        total = number(failed.get("total"))
        if result.error_fraction is None and result.failed_requests is not None and total:
            result.error_fraction = result.failed_requests / total
    config = optional_mapping(document.get("config"), "config", source)
    result.duration_s = number(config.get("duration"))
    if result.requests is not None and result.duration_s:
        result.rps = result.requests / result.duration_s
    metadata = optional_mapping(document.get("metadata"), "metadata", source)
    result.produced_at = timestamp(metadata.get("generated_at", metadata.get("generatedAt")))
    checks = optional_mapping(results.get("checks"), "results.checks", source)
    passed = failures = 0
    for index, raw in enumerate(optional_sequence(checks.get("results"), "results.checks.results", source)):
        check = mapping(raw, f"results.checks.results[{index}]", source)
        passed += int(number(check.get("passes")) or 0)
        failures += int(number(check.get("fails")) or 0)
    result.checks = (passed, failures)
    result.unjudged = (
        "this summary format carries no threshold results; "
        "judge it with conditions on P95_MS, ERROR_RATE, RPS"
    )
    return result


def _read_common(
    result: K6Result,
    values_of: Callable[[str], dict[str, Any] | None],
    *,
    rate_key: str,
    names: MetricNames,
) -> None:
    """Trend, failure rate and request counter, where the summary formats agree."""
    trend = values_of(names.duration)
    if trend is not None:
        for key in TREND_VALUES:
            value = number(trend.get(key))
            if value is None and key in TREND_ALIASES:
                value = number(trend.get(TREND_ALIASES[key]))
            if value is not None:
                result.trend[key] = value
    failed = values_of(names.failed)
    if failed is not None:
        result.error_fraction = number(failed.get(rate_key))
        result.failed_requests = number(failed.get("passes"))  # true samples = failed requests
        successes = number(failed.get("fails"))
        if result.error_fraction is None and result.failed_requests is not None and successes is not None:
            total = result.failed_requests + successes
            result.error_fraction = result.failed_requests / total if total else None
    requests = values_of(names.requests)
    if requests is not None:
        result.requests = number(requests.get("count"))
        result.rps = number(requests.get("rate"))


def _group_checks(group: Any, where: str, source: str) -> tuple[int, int] | None:
    """Sum the checks of a group and its nested groups (arrays or objects by name)."""
    if group is None:
        return None
    node = mapping(group, where, source)
    passed = failed = 0
    for path, raw in _members(node.get("checks"), f"{where}.checks", source):
        check = mapping(raw, path, source)
        passed += int(number(check.get("passes")) or 0)
        failed += int(number(check.get("fails")) or 0)
    for path, child in _members(node.get("groups"), f"{where}.groups", source):
        sub = _group_checks(child, path, source) or (0, 0)
        passed, failed = passed + sub[0], failed + sub[1]
    return passed, failed


def _members(value: Any, where: str, source: str) -> Iterable[tuple[str, Any]]:
    if value is None:
        return []
    if isinstance(value, list):
        return [(f"{where}[{i}]", v) for i, v in enumerate(value)]
    return [(f"{where}[{k!r}]", v) for k, v in mapping(value, where, source).items()]


def _note_thresholds(result: K6Result) -> None:
    failed = result.failed_thresholds()
    if failed:
        result.notes.append("failed thresholds: " + "; ".join(failed))
    elif not any((result.thresholds or {}).values()):
        result.unjudged = "the k6 script defines no thresholds"


def _json_output(lines: list[str], source: str, names: MetricNames) -> K6Result:
    samples = read_samples(lines, source, names.duration, names.failed, names.requests)
    result = K6Result("json-output", trend=trend_stats(samples.durations), produced_at=samples.last)
    if samples.failed_total:
        result.error_fraction = samples.failures / samples.failed_total
        result.failed_requests = samples.failures
    result.requests = samples.requests
    if samples.first is not None and samples.last is not None and samples.last > samples.first:
        # First to last sample: close to, slightly under, k6's own test duration.
        result.duration_s = (samples.last - samples.first).total_seconds()
        if samples.requests is not None:
            result.rps = samples.requests / result.duration_s
    result.checks = (samples.checks_passed, samples.checks_failed)
    if samples.declared_thresholds:
        result.unjudged = (
            f"{samples.declared_thresholds} threshold(s) declared in the run are not evaluated from raw "
            "--out json output; judge it with conditions on P95_MS, ERROR_RATE, RPS"
        )
    else:
        result.unjudged = "the k6 script defines no thresholds"
    return result


def _whole(value: float | None) -> int | float | None:
    return int(value) if value is not None and float(value).is_integer() else value
