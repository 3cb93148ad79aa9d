"""``k6``: a k6 load-test result — latency, error rate, throughput, thresholds, checks.

Reads every shape k6 writes (see :mod:`golive.checks.formats.k6`): the machine-readable summary, the
``handleSummary`` data, the legacy ``--summary-export`` and ``--out json`` lines (also
gzipped). The evidence is as old as the test: ``metadata.generatedAt`` of the
machine-readable summary, the last sample of ``--out json``, else the file's mtime or the
URL's ``Last-Modified``.

The default condition is ``len([THRESHOLDS_FAILED]) == 0``: the thresholds the k6 script
declares are the test's own pass criteria, and k6 exits 99 when one fails. The default
warn condition ``[THRESHOLDS_OK] == true`` makes an item WARN, saying why, when no
threshold was evaluated: the script defines none, or the format carries no threshold
results (the machine-readable summary, ``--out json``). Give the item ``allow_warn:
true`` to let that pass GO. The measured values stay observed either way: items with
conditions such as ``[P95_MS] < 500`` or ``[ERROR_RATE] < 1%`` are decided by them
whenever the document has the metric, and a missing threshold does not touch them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..clients.documents import SourceAuth, is_url, read_document
from ..formats.k6 import MetricNames, parse_k6
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register

#: How much a gzipped ``--out json`` may expand, relative to the size cap on files.
_GZIP_EXPANSION = 8


class K6Metrics(BaseModel):
    """Which k6 metrics to read; a sub-metric like ``http_req_duration{expected_response:true}``
    works where the document has it (summaries list sub-metrics that have thresholds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    duration: str = Field(default="http_req_duration", min_length=1)
    failed: str = Field(default="http_req_failed", min_length=1)
    requests: str = Field(default="http_reqs", min_length=1)


class K6Config(ProbeConfig):
    type: Literal["k6"] = "k6"
    #: Path (relative to the checklist) or http(s) URL of the k6 result.
    summary: str = Field(min_length=1)
    auth: SourceAuth | None = None
    metrics: K6Metrics = K6Metrics()


async def gather(config: K6Config, context: ProbeContext) -> Observation:
    document = await read_document(config.summary, context, config.auth)
    names = MetricNames(config.metrics.duration, config.metrics.failed, config.metrics.requests)
    result = parse_k6(document.content, document.source, names, context.max_body_bytes * _GZIP_EXPANSION)
    values = result.values()
    notes = [*result.notes, *([result.unjudged] if result.unjudged else [])]
    return Observation(
        values=values,
        evidence=Evidence(
            source=document.source,
            observed_at=result.produced_at or document.produced_at,
            link=document.source if is_url(document.source) else None,
        ),
        message=_summary(values, notes),
    )


def _summary(values: dict[str, object], notes: list[str]) -> str:
    parts = [f"k6 {values['FORMAT']}"]
    if "REQUESTS" in values:
        parts.append(f"{values['REQUESTS']} requests")
    if "P95_MS" in values:
        parts.append(f"p95 {_short(values['P95_MS'])} ms")
    if "ERROR_RATE" in values:
        parts.append(f"errors {_short(values['ERROR_RATE'])}%")
    if "RPS" in values:
        parts.append(f"{_short(values['RPS'])} req/s")
    return "; ".join([", ".join(parts), *notes])


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


K6 = register(
    ProbeType(
        name="k6",
        summary="A k6 result (any summary format or --out json): latency, errors, throughput, thresholds.",
        config_model=K6Config,
        gather=gather,
        values=(
            Value("FORMAT", "machine-readable, handle-summary, summary-export or json-output"),
            Value("P90_MS", "90th percentile of the duration metric", "ms"),
            Value("P95_MS", "95th percentile of the duration metric", "ms"),
            Value("P99_MS", "99th percentile, where the summary has it (summaryTrendStats)", "ms"),
            Value("AVG_MS", "mean of the duration metric", "ms"),
            Value("MED_MS", "median of the duration metric", "ms"),
            Value("MAX_MS", "maximum of the duration metric", "ms"),
            Value("ERROR_RATE", "share of failed requests (http_req_failed)", "%"),
            Value("FAILED_REQUESTS", "number of failed requests"),
            Value("REQUESTS", "number of requests (http_reqs)"),
            Value("RPS", "requests per second over the test", "req/s"),
            Value("DURATION_S", "test duration, where the document tells", "s"),
            Value("THRESHOLDS_OK", "no threshold failed; observed only with threshold results"),
            Value(
                "THRESHOLDS_FAILED",
                "failed thresholds as 'metric: threshold'; empty also when none was evaluated (a WARN)",
            ),
            Value("THRESHOLDS", "metric → threshold → passed", structured=True),
            Value("CHECKS_PASSED", "passed check() calls, nested groups included"),
            Value("CHECKS_FAILED", "failed check() calls, nested groups included"),
        ),
        default_conditions=("len([THRESHOLDS_FAILED]) == 0",),
        default_warn_conditions=("[THRESHOLDS_OK] == true",),
        example={"type": "k6", "summary": "reports/k6-summary.json"},
    )
)
