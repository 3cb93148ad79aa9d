"""Coverage reports, parsed without I/O: Cobertura XML, coverage.py JSON, JaCoCo XML.

- Cobertura (``coverage xml``, pytest-cov, Cobertura itself): totals are attributes of
  ``<coverage>``; rates are strings. ``branches-valid="0"`` with ``branch-rate="0"`` means
  branch measurement was OFF, so BRANCH is not observed (not 0 %); coverage.py writes
  ``branch-rate="1"`` when branches were measured and there were none.
- coverage.py JSON (format 3): ``totals.percent_covered`` counts statements *and*
  branches when branch coverage is on.
- JaCoCo: only the report-level ``<counter>`` elements (direct children of ``<report>``)
  count; a missing BRANCH counter means no branches measured. The file declares a
  DOCTYPE: defusedxml parses it, refuses entities, and nothing is ever fetched.

One rule for every format: a report that measured nothing (0 lines or statements, or a
JaCoCo report without any counter) is no evidence of coverage. It is an ERROR that says
so, never 100 %, whatever the tool itself prints for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ..errors import PermanentProbeError, ProbeError
from .documents import epoch_time, load_json, mapping, number, timestamp

Metric = Literal["line", "branch", "combined"]


@dataclass(frozen=True)
class CoverageResult:
    format: str
    #: Percentages, 0..100.
    line: float
    branch: float | None
    #: Statements and branches together, as coverage.py's percent_covered counts them.
    combined: float
    #: The number the format itself leads with; COVERAGE when no metric is chosen.
    headline: float
    headline_name: str
    lines_covered: int | None
    lines_valid: int | None
    produced_at: datetime | None

    def values(self, metric: Metric | None) -> dict[str, Any]:
        chosen = {None: self.headline, "line": self.line, "branch": self.branch, "combined": self.combined}
        values: dict[str, Any] = {"FORMAT": self.format, "LINE": self.line}
        optional = {
            "COVERAGE": chosen[metric],
            "BRANCH": self.branch,
            "LINES_COVERED": self.lines_covered,
            "LINES_VALID": self.lines_valid,
        }
        values.update({k: v for k, v in optional.items() if v is not None})
        return values


def percent(part: float, whole: float) -> float:
    """``part`` of ``whole`` in percent; no branches to cover counts as fully covered."""
    return 100.0 if whole == 0 else part / whole * 100


def nothing_measured(source: str, format_name: str, what: str) -> ProbeError:
    return PermanentProbeError(
        f"{source}: the {format_name} report measured nothing ({what}), so it is no evidence "
        "of coverage; check that the tests ran with coverage of the release's sources"
    )


def parse_coverage(content: bytes, source: str) -> CoverageResult:
    start = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not start:
        raise PermanentProbeError(f"{source}: the coverage report is empty")
    if start == b"<":
        root = _parse_xml(content, source)
        if root.tag == "coverage":
            return _cobertura(root, source)
        if root.tag == "report":
            return _jacoco(root, source)
        raise PermanentProbeError(
            f"{source}: XML root <{root.tag}> is neither Cobertura <coverage> nor JaCoCo <report>"
        )
    if start == b"{":
        return _coverage_json(load_json(content, source, "coverage report"), source)
    raise PermanentProbeError(
        f"{source}: not a coverage report (expected Cobertura or JaCoCo XML, or coverage.py JSON)"
    )


def _parse_xml(content: bytes, source: str) -> Element:
    try:
        root: Element = fromstring(content)
    except ParseError as exc:
        raise PermanentProbeError(f"{source}: not well-formed XML ({exc}); is the file truncated?") from None
    except DefusedXmlException as exc:
        raise PermanentProbeError(f"{source}: refused XML with entity declarations ({exc})") from None
    except LookupError as exc:  # <?xml encoding="…"?> that Python does not know
        raise PermanentProbeError(
            f"{source}: the XML declares an encoding Python does not know ({exc})"
        ) from None
    return root


def _cobertura(root: Element, source: str) -> CoverageResult:
    lines_valid = _count(root, "lines-valid", source)
    lines_covered = _count(root, "lines-covered", source)
    if lines_valid == 0:
        raise nothing_measured(source, "Cobertura", "lines-valid 0")
    if lines_valid is not None and lines_covered is not None:
        line = percent(lines_covered, lines_valid)
    else:
        rate = _rate(root, "line-rate", source)
        if rate is None:
            raise PermanentProbeError(
                f"{source}: <coverage> has neither lines-valid/lines-covered nor line-rate"
            )
        line = rate
    branches_valid = _count(root, "branches-valid", source)
    branches_covered = _count(root, "branches-covered", source)
    branch_rate = _rate(root, "branch-rate", source)
    branch: float | None
    if branches_valid:
        branch = percent(branches_covered, branches_valid) if branches_covered is not None else branch_rate
    elif branches_valid == 0:
        # 0 branches: measured (rate "1") or branch coverage off (rate "0").
        branch = 100.0 if branch_rate == 100.0 else None
    else:
        # No counts: a rate of 0 cannot be told from "not measured".
        branch = branch_rate or None
    combined = line
    if branch is not None and None not in (lines_valid, lines_covered, branches_valid, branches_covered):
        assert lines_valid is not None and lines_covered is not None
        combined = percent(lines_covered + (branches_covered or 0), lines_valid + (branches_valid or 0))
    return CoverageResult(
        format="cobertura",
        line=line,
        branch=branch,
        combined=combined,
        headline=line,
        headline_name="line-rate",
        lines_covered=lines_covered,
        lines_valid=lines_valid,
        produced_at=epoch_time(root.get("timestamp")),
    )


def _coverage_json(document: Any, source: str) -> CoverageResult:
    if not isinstance(document, dict) or not isinstance(document.get("totals"), dict):
        raise PermanentProbeError(f"{source}: not a coverage.py JSON report (no 'totals' object)")
    meta = mapping(document.get("meta", {}), "meta", source)
    version = meta.get("format")
    if version is not None and version not in (2, 3):
        raise PermanentProbeError(
            f"{source}: coverage.py JSON format {version!r} is not supported (this probe reads 2 and 3)"
        )
    totals = document["totals"]
    statements = _json_count(totals, "num_statements", source)
    covered = _json_count(totals, "covered_lines", source)
    if statements is None or covered is None:
        raise PermanentProbeError(f"{source}: totals.num_statements and totals.covered_lines are required")
    if statements == 0:
        raise nothing_measured(source, "coverage.py JSON", "0 statements")
    line = percent(covered, statements)
    measured = meta.get("branch_coverage")
    branches = _json_count(totals, "num_branches", source)
    covered_branches = _json_count(totals, "covered_branches", source)
    branch = None
    if (measured is True or measured is None) and branches is not None and covered_branches is not None:
        branch = percent(covered_branches, branches)
    combined = number(totals.get("percent_covered"))
    if combined is None:
        combined = percent(covered + (covered_branches or 0), statements + (branches or 0))
    _check_percent(combined, "totals.percent_covered", source)
    return CoverageResult(
        format="coverage.py-json",
        line=line,
        branch=branch,
        combined=combined,
        headline=combined,
        headline_name="percent_covered, with branches" if branch is not None else "percent_covered",
        lines_covered=covered,
        lines_valid=statements,
        produced_at=timestamp(meta.get("timestamp")),
    )


def _jacoco(root: Element, source: str) -> CoverageResult:
    counters: dict[str, tuple[int, int]] = {}
    for counter in root.findall("counter"):  # direct children: the report totals
        kind = counter.get("type", "")
        missed, covered = _count(counter, "missed", source), _count(counter, "covered", source)
        if missed is None or covered is None:
            raise PermanentProbeError(f"{source}: <counter type={kind!r}> needs missed and covered")
        counters[kind] = (covered, missed + covered)
    if not counters and root.find("package") is None and root.find("group") is None:
        # JaCoCo writes no counter and no package when no class was analysed.
        raise nothing_measured(source, "JaCoCo", "no report-level counter")
    if "LINE" not in counters:
        raise PermanentProbeError(f"{source}: JaCoCo <report> has no report-level LINE counter")
    lines_covered, lines_valid = counters["LINE"]
    if lines_valid == 0:
        raise nothing_measured(source, "JaCoCo", "LINE counter 0 of 0")
    line = percent(lines_covered, lines_valid)
    branch = percent(*counters["BRANCH"]) if "BRANCH" in counters else None
    branches_covered, branches_valid = counters.get("BRANCH", (0, 0))
    dumps = [t for s in root.findall("sessioninfo") if (t := epoch_time(s.get("dump")))]
    return CoverageResult(
        format="jacoco",
        line=line,
        branch=branch,
        combined=percent(lines_covered + branches_covered, lines_valid + branches_valid),
        headline=line,
        headline_name="LINE counter",
        lines_covered=lines_covered,
        lines_valid=lines_valid,
        # No report-creation time in JaCoCo; the latest execution-data dump is the closest.
        produced_at=max(dumps, default=None),
    )


def _count(element: Element, name: str, source: str) -> int | None:
    raw = element.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0 or not value.is_integer():
        raise PermanentProbeError(f"{source}: <{element.tag} {name}={raw!r}> is not a count")
    return int(value)


def _rate(element: Element, name: str, source: str) -> float | None:
    """A Cobertura rate string ("0.8571") as a percentage."""
    raw = element.get(name)
    if raw is None:
        return None
    try:
        rate = float(raw)
    except ValueError:
        raise PermanentProbeError(f"{source}: <{element.tag} {name}={raw!r}> is not a number") from None
    if not 0 <= rate <= 1:
        raise PermanentProbeError(f"{source}: <{element.tag} {name}={raw!r}> is not between 0 and 1")
    return rate * 100


def _json_count(totals: dict[str, Any], name: str, source: str) -> int | None:
    if name not in totals:
        return None
    value = number(totals[name])
    if value is None or value < 0 or not value.is_integer():
        raise PermanentProbeError(f"{source}: totals.{name} should be a count, found {totals[name]!r}")
    return int(value)


def _check_percent(value: float, where: str, source: str) -> None:
    if not 0 <= value <= 100:
        raise PermanentProbeError(f"{source}: {where} = {value} is not a percentage")
