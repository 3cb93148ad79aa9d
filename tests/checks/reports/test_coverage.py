"""The coverage probe over Cobertura XML, coverage.py JSON and JaCoCo XML.

Besides hand-written fixtures, coverage.py itself measures a small module here and the
probe must report exactly the numbers coverage.py reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from golive.checks.errors import ProbeError
from golive.checks.formats.coverage import parse_coverage
from golive.checks.status import Status

from .conftest import ReportServer
from .support import run_one

PRICING = textwrap.dedent(
    """
    def price(amount, customer):
        if amount < 0:
            raise ValueError("negative amount")
        discount = 0.0
        if customer == "gold":
            discount = 0.1
        elif customer == "silver":
            discount = 0.05
        total = amount * (1 - discount)
        if total > 1000:
            total -= 10
        return round(total, 2)


    def never_called():
        return 42
    """
)
CHECK_PRICING = textwrap.dedent(
    """
    from pricing import price

    assert price(100, "gold") == 90.0
    assert price(2000, "none") == 1990.0
    """
)


@dataclass(frozen=True)
class Measured:
    """Reports coverage.py wrote for one run, and what coverage.py says about them."""

    folder: Path
    #: `coverage report --format=total --precision=6`
    total: float
    totals: dict[str, Any]


def _measure(folder: Path, *, branch: bool) -> Measured:
    folder.mkdir()
    (folder / "pricing.py").write_text(PRICING)
    (folder / "check_pricing.py").write_text(CHECK_PRICING)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env["COVERAGE_FILE"] = str(folder / ".coverage")

    def coverage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "coverage", *args],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    coverage("run", *(["--branch"] if branch else []), "--include=pricing.py", "check_pricing.py")
    coverage("xml", "-o", "coverage.xml")
    coverage("json", "-o", "coverage.json")
    total = float(coverage("report", "--format=total", "--precision=6"))
    totals = json.loads((folder / "coverage.json").read_text())["totals"]
    return Measured(folder, total, totals)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Measured]:
    root = tmp_path_factory.mktemp("measured")
    return {
        "branch": _measure(root / "branch", branch=True),
        "lines": _measure(root / "lines", branch=False),
    }


async def test_coverage_json_reports_what_coverage_py_reports(measured: dict[str, Measured]) -> None:
    run = measured["branch"]
    result = await run_one({"type": "coverage", "report": "coverage.json"}, base_dir=run.folder, now=None)

    observed = result.observed
    assert observed["FORMAT"] == "coverage.py-json"
    # With branches on, percent_covered counts statements and branches, like `coverage report`.
    assert observed["COVERAGE"] == run.totals["percent_covered"]
    assert round(observed["COVERAGE"], 6) == run.total
    assert observed["LINE"] == pytest.approx(100 * run.totals["covered_lines"] / run.totals["num_statements"])
    assert observed["BRANCH"] == pytest.approx(
        100 * run.totals["covered_branches"] / run.totals["num_branches"]
    )
    assert observed["LINES_VALID"] == run.totals["num_statements"]
    assert observed["COVERAGE"] < 90
    assert result.status == Status.FAIL
    assert f"[COVERAGE] = {observed['COVERAGE']:.4g}%, limit >= 90%" in result.message
    # meta.timestamp: written moments ago on this machine.
    assert result.evidence is not None
    assert timedelta(0) <= datetime.now(UTC) - result.evidence.observed_at < timedelta(minutes=10)


async def test_cobertura_xml_from_coverage_py_matches_its_totals(measured: dict[str, Measured]) -> None:
    run = measured["branch"]
    line = await run_one({"type": "coverage", "report": "coverage.xml"}, base_dir=run.folder, now=None)
    combined = await run_one(
        {"type": "coverage", "report": "coverage.xml", "metric": "combined"}, base_dir=run.folder, now=None
    )
    branch = await run_one(
        {"type": "coverage", "report": "coverage.xml", "metric": "branch"}, base_dir=run.folder, now=None
    )

    assert line.observed["FORMAT"] == "cobertura"
    assert line.observed["COVERAGE"] == pytest.approx(
        100 * run.totals["covered_lines"] / run.totals["num_statements"]
    )
    assert line.observed["LINES_COVERED"] == run.totals["covered_lines"]
    assert combined.observed["COVERAGE"] == pytest.approx(run.totals["percent_covered"])
    assert round(combined.observed["COVERAGE"], 6) == run.total
    assert branch.observed["COVERAGE"] == pytest.approx(
        100 * run.totals["covered_branches"] / run.totals["num_branches"]
    )
    assert line.evidence is not None
    assert timedelta(0) <= datetime.now(UTC) - line.evidence.observed_at < timedelta(minutes=10)


async def test_without_branch_measurement_branch_is_not_observed(measured: dict[str, Measured]) -> None:
    run = measured["lines"]
    xml = (run.folder / "coverage.xml").read_text()
    assert 'branches-valid="0"' in xml and 'branch-rate="0"' in xml  # what coverage.py writes

    for report in ("coverage.xml", "coverage.json"):
        result = await run_one(
            {"type": "coverage", "report": report, "metric": "branch"}, base_dir=run.folder, now=None
        )
        assert "BRANCH" not in result.observed, report
        assert "COVERAGE" not in result.observed
        assert result.status == Status.FAIL
        assert "[COVERAGE] = (not observed), limit >= 90%" in result.message
        assert result.observed["LINE"] == pytest.approx(run.total)
        default = await run_one({"type": "coverage", "report": report}, base_dir=run.folder, now=None)
        assert round(default.observed["COVERAGE"], 6) == run.total


async def test_cobertura_fixture_fails_below_ninety() -> None:
    result = await run_one({"type": "coverage", "report": "cobertura.xml"})

    assert result.status == Status.FAIL
    assert result.observed == {
        "FORMAT": "cobertura",
        "LINE": 85.0,
        "COVERAGE": 85.0,
        "BRANCH": 80.0,
        "LINES_COVERED": 170,
        "LINES_VALID": 200,
    }
    assert "[COVERAGE] = 85%, limit >= 90%" in result.message
    assert result.evidence is not None
    assert result.evidence.observed_at == datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # timestamp, ms


async def test_cobertura_with_branch_measurement_off() -> None:
    result = await run_one({"type": "coverage", "report": "cobertura-branches-off.xml"})
    assert result.status == Status.PASS, result.message
    assert result.observed["COVERAGE"] == 92.5
    assert "BRANCH" not in result.observed  # branches-valid="0": off, not 0 %
    assert "branches not measured" in result.message


async def test_coverage_json_fixture_uses_percent_covered() -> None:
    result = await run_one({"type": "coverage", "report": "coverage-py.json"})
    assert result.status == Status.PASS, result.message
    assert (result.observed["COVERAGE"], result.observed["LINE"], result.observed["BRANCH"]) == (
        90.0,
        91.0,
        85.0,
    )
    line = await run_one({"type": "coverage", "report": "coverage-py.json", "metric": "line"})
    assert line.observed["COVERAGE"] == 91.0
    # A naive meta.timestamp is coverage.py's local wall clock on the machine that ran it.
    assert result.evidence is not None
    assert result.evidence.observed_at == datetime(2025, 6, 2, 10, 0, 0, 123456).astimezone()


async def test_jacoco_report_level_counters_only() -> None:
    result = await run_one({"type": "coverage", "report": "jacoco.xml"})
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["FORMAT"] == "jacoco"
    assert (observed["LINE"], observed["BRANCH"]) == (95.0, 85.0)  # not the package's 90 / 75
    assert (observed["LINES_COVERED"], observed["LINES_VALID"]) == (665, 700)
    assert result.evidence is not None
    assert result.evidence.observed_at == datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # latest dump


async def test_jacoco_without_branch_counter_and_stale() -> None:
    result = await run_one(
        {"type": "coverage", "report": "jacoco-no-branch.xml"}, conditions=["[LINE] >= 80"]
    )
    assert "BRANCH" not in result.observed
    assert result.raw_status == Status.PASS
    # Its only session was dumped on 2025-04-01: far older than the default 24 h.
    assert result.status == Status.STALE
    assert result.message.startswith("evidence is 62.5d old")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("coverage-truncated.xml", "coverage-truncated.xml: not well-formed XML (unclosed token"),
        ("jacoco-entities.xml", "jacoco-entities.xml: refused XML with entity declarations"),
        ("garbage.bin", "garbage.bin: not a coverage report"),
        ("k6-truncated.json", "k6-truncated.json: the coverage report is not valid JSON"),
        ("k6-handle-summary.json", "k6-handle-summary.json: not a coverage.py JSON report"),
        ("no-such-coverage.xml", "report not found:"),
    ],
)
async def test_unusable_reports_are_errors(name: str, expected: str) -> None:
    result = await run_one({"type": "coverage", "report": name})
    assert result.status == Status.ERROR
    assert expected in result.message


async def test_coverage_over_http(report_server: ReportServer) -> None:
    result = await run_one({"type": "coverage", "report": f"{report_server.url}/old/coverage-py.json"})
    assert result.status == Status.PASS, result.message  # meta.timestamp beats the old header
    missing = await run_one({"type": "coverage", "report": f"{report_server.url}/reports/nope.xml"})
    assert missing.status == Status.ERROR
    assert missing.message.endswith("/reports/nope.xml: HTTP 404")


# The pure half.


def test_cobertura_edge_cases() -> None:
    no_branches = parse_coverage(
        b'<coverage lines-valid="4" lines-covered="4" line-rate="1" branches-valid="0" branch-rate="1"/>',
        "e.xml",
    )
    assert (no_branches.line, no_branches.branch) == (100.0, 100.0)  # measured, no branch to cover
    rates_only = parse_coverage(b'<coverage line-rate="0.8571" branch-rate="0"/>', "r.xml")
    assert rates_only.line == pytest.approx(85.71)
    assert rates_only.branch is None  # a bare 0 cannot be told from "not measured"
    with pytest.raises(ProbeError, match=r"b.xml: <coverage line-rate='1.5'> is not between 0 and 1"):
        parse_coverage(b'<coverage line-rate="1.5"/>', "b.xml")
    with pytest.raises(ProbeError, match=r"n.xml: XML root <html> is neither"):
        parse_coverage(b"<html><body>502 Bad Gateway</body></html>", "n.xml")


def test_coverage_json_edge_cases() -> None:
    with pytest.raises(ProbeError, match=r"empty.json: the coverage report is empty"):
        parse_coverage(b"\n  \n", "empty.json")
    with pytest.raises(ProbeError, match="format 9 is not supported"):
        parse_coverage(b'{"meta": {"format": 9}, "totals": {}}', "f.json")


def test_jacoco_without_line_counter() -> None:
    with pytest.raises(ProbeError, match="no report-level LINE counter"):
        parse_coverage(
            b'<report name="x"><package name="p"><counter type="LINE" missed="1" covered="1"/>'
            b"</package></report>",
            "j.xml",
        )


#: What each tool writes when the tests measured nothing: coverage.py's `coverage json`
#: and `coverage xml` with no measured file, and JaCoCo's report with no class analysed.
NOTHING_MEASURED = {
    "coverage.json": (
        b'{"meta": {"format": 3, "version": "7.6.1", "timestamp": "2025-06-02T10:00:00.000000",'
        b' "branch_coverage": false, "show_contexts": false}, "files": {}, "totals": {"covered_lines": 0,'
        b' "num_statements": 0, "percent_covered": 100.0, "percent_covered_display": "100",'
        b' "missing_lines": 0, "excluded_lines": 0}}',
        "coverage.py JSON report measured nothing (0 statements)",
    ),
    "coverage.xml": (
        b'<?xml version="1.0" ?>\n<coverage version="7.6.1" timestamp="1748858400000" lines-valid="0"'
        b' lines-covered="0" line-rate="1" branches-covered="0" branches-valid="0" branch-rate="0"'
        b' complexity="0"><sources><source>/src</source></sources><packages/></coverage>',
        "Cobertura report measured nothing (lines-valid 0)",
    ),
    "jacoco.xml": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><report name="neuroerp">'
        b'<sessioninfo id="ci-1" start="1748858000000" dump="1748858400000"/></report>',
        "JaCoCo report measured nothing (no report-level counter)",
    ),
}


@pytest.mark.parametrize("name", sorted(NOTHING_MEASURED))
async def test_a_report_that_measured_nothing_is_no_evidence_in_any_format(tmp_path: Path, name: str) -> None:
    content, expected = NOTHING_MEASURED[name]
    (tmp_path / name).write_bytes(content)
    result = await run_one({"type": "coverage", "report": name}, base_dir=tmp_path)
    assert result.status == Status.ERROR
    assert expected in result.message
    assert "no evidence of coverage" in result.message
    assert "COVERAGE" not in result.observed
