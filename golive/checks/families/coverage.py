"""``coverage``: a test-coverage report — Cobertura XML, coverage.py JSON or JaCoCo XML.

COVERAGE is the number the condition judges. ``metric`` chooses it:

- ``line``: covered lines / lines (Cobertura ``lines-covered``/``lines-valid``, coverage.py
  ``covered_lines``/``num_statements``, JaCoCo LINE counter);
- ``branch``: covered branches / branches; not observed when branches were not measured;
- ``combined``: lines and branches together, as ``coverage report`` counts them;
- unset: the number the format itself leads with — ``line-rate`` for Cobertura, the
  LINE counter for JaCoCo, and ``percent_covered`` for coverage.py JSON (which is
  ``combined`` when branch coverage is on, ``line`` otherwise), so the item shows what
  the team's own tooling shows.

A report that measured nothing (0 lines or statements, a JaCoCo report without
counters) is no evidence of coverage, in every format: an ERROR that says so, not 100 %.

The evidence is as old as the report: Cobertura ``timestamp`` (ms), coverage.py JSON
``meta.timestamp``, JaCoCo's latest ``sessioninfo`` dump (ms), else the file's mtime or
the URL's Last-Modified.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..clients.documents import SourceAuth, is_url, read_document
from ..formats.coverage import Metric, parse_coverage
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register


class CoverageConfig(ProbeConfig):
    type: Literal["coverage"] = "coverage"
    #: Path (relative to the checklist) or http(s) URL of the report.
    report: str = Field(min_length=1)
    metric: Metric | None = None
    auth: SourceAuth | None = None


async def gather(config: CoverageConfig, context: ProbeContext) -> Observation:
    document = await read_document(config.report, context, config.auth)
    result = parse_coverage(document.content, document.source)
    values = result.values(config.metric)
    measured = f"branch {result.branch:.2f}%" if result.branch is not None else "branches not measured"
    chosen = config.metric or result.headline_name
    if "COVERAGE" in values:
        message = f"{result.format}: COVERAGE {values['COVERAGE']:.2f}% ({chosen})"
    else:
        message = f"{result.format}: no {chosen} coverage in this report"
    message += f"; line {result.line:.2f}%, {measured}"
    return Observation(
        values=values,
        evidence=Evidence(
            source=document.source,
            observed_at=result.produced_at or document.produced_at,
            link=document.source if is_url(document.source) else None,
        ),
        message=message,
    )


COVERAGE = register(
    ProbeType(
        name="coverage",
        summary="A coverage report (Cobertura XML, coverage.py JSON, JaCoCo XML) in percent.",
        config_model=CoverageConfig,
        gather=gather,
        values=(
            Value("COVERAGE", "the chosen coverage (see metric)", "%"),
            Value("LINE", "line coverage", "%"),
            Value("BRANCH", "branch coverage; not observed when branches were not measured", "%"),
            Value("LINES_COVERED", "lines (statements) covered"),
            Value("LINES_VALID", "lines (statements) measured"),
            Value("FORMAT", "cobertura, coverage.py-json or jacoco"),
        ),
        default_conditions=("[COVERAGE] >= 90",),
        example={"type": "coverage", "report": "reports/coverage.xml", "metric": "line"},
    )
)
