"""k6 ``--out json`` (NDJSON): one Metric or Point object per line, read without I/O.

A Point is ``{"type":"Point","metric":name,"data":{"time","value","tags"}}``; ``tags`` may be
null. Only the samples of the metrics asked for are kept, so memory follows the number of
requests, not the size of the file. Metric lines only declare thresholds; k6 writes no
threshold results here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import PermanentProbeError
from .documents import mapping, number, optional_mapping, optional_sequence, timestamp


@dataclass(frozen=True)
class Selector:
    """A metric name, or a sub-metric such as ``http_req_duration{expected_response:true}``."""

    metric: str
    tags: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Selector:
        match = re.fullmatch(r"\s*([^{\s]+)\s*(?:\{(.*)\})?\s*", text)
        if not match:
            return cls(text)
        tags = []
        for part in filter(str.strip, (match.group(2) or "").split(",")):
            key, _, value = part.partition(":")
            tags.append((key.strip(), value.strip().strip("\"'")))
        return cls(match.group(1), tuple(tags))

    def matches(self, metric: Any, tags: Mapping[str, Any]) -> bool:
        return metric == self.metric and all(str(tags.get(k)) == v for k, v in self.tags)


@dataclass
class Samples:
    """Running totals over the Points of the selected metrics."""

    duration: Selector
    failed: Selector
    requests_metric: Selector
    durations: list[float] = field(default_factory=list)
    #: True samples of the failure rate: failed requests.
    failures: int = 0
    failed_total: int = 0
    requests: float | None = None
    checks_passed: int = 0
    checks_failed: int = 0
    first: datetime | None = None
    last: datetime | None = None
    declared_thresholds: int = 0

    def add(self, metric: Any, tags: Mapping[str, Any], value: float, when: datetime) -> None:
        self.first = when if self.first is None or when < self.first else self.first
        self.last = when if self.last is None or when > self.last else self.last
        if self.duration.matches(metric, tags):
            self.durations.append(value)
        if self.failed.matches(metric, tags):
            self.failed_total += 1
            self.failures += value != 0
        if self.requests_metric.matches(metric, tags):
            self.requests = (self.requests or 0) + value
        if metric == "checks":
            self.checks_passed += value != 0
            self.checks_failed += value == 0


def read_samples(lines: list[str], source: str, duration: str, failed: str, requests: str) -> Samples:
    samples = Samples(Selector.parse(duration), Selector.parse(failed), Selector.parse(requests))
    last_filled = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        where = f"line {index + 1}"
        try:
            entry = mapping(json.loads(line), where, source)
        except json.JSONDecodeError as exc:
            truncated = " (the file looks truncated)" if index == last_filled else ""
            raise PermanentProbeError(f"{source}: {where} is not valid JSON: {exc.msg}{truncated}") from None
        except RecursionError:
            raise PermanentProbeError(f"{source}: {where} is nested too deeply") from None
        kind = entry.get("type")
        if kind not in ("Metric", "Point"):
            raise PermanentProbeError(f"{source}: {where} is not a k6 --out json entry (type {kind!r})")
        data = mapping(entry.get("data"), f"{where}: data", source)
        if kind == "Metric":
            declared = optional_sequence(data.get("thresholds"), f"{where}: data.thresholds", source)
            samples.declared_thresholds += len(declared)
            continue
        value, when = number(data.get("value")), timestamp(data.get("time"))
        if value is None or when is None:
            raise PermanentProbeError(
                f"{source}: {where}: a Point needs a numeric value and an RFC 3339 time"
            )
        tags = optional_mapping(data.get("tags"), f"{where}: data.tags", source)  # may be null
        samples.add(entry.get("metric"), tags, value, when)
    return samples


def trend_stats(values: list[float]) -> dict[str, float]:
    """avg, med, max and percentiles, interpolated between the closest ranks.

    That is what k6 did before it switched to an HDR histogram (which approximates to
    about 1 %), so a p(95) computed here may differ from k6's own by that much.
    """
    if not values:
        return {}
    ordered = sorted(values)

    def percentile(fraction: float) -> float:
        rank = fraction * (len(ordered) - 1)
        low, high = ordered[math.floor(rank)], ordered[math.ceil(rank)]
        return low + (high - low) * (rank - math.floor(rank))

    stats = {
        "avg": math.fsum(ordered) / len(ordered),
        "med": percentile(0.5),
        "max": ordered[-1],
        "p(90)": percentile(0.90),
        "p(95)": percentile(0.95),
        "p(99)": percentile(0.99),
    }
    # Nanoseconds are plenty for milliseconds; the rest is floating-point noise.
    return {key: round(value, 6) for key, value in stats.items()}
