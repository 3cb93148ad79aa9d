"""The k6 probe over every k6 output format, through loads() and run_checklist()."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from golive.checks.errors import ProbeError
from golive.checks.formats.k6 import MetricNames, parse_k6
from golive.checks.formats.k6_samples import Selector, trend_stats
from golive.checks.status import Status

from .conftest import TOKEN, ReportServer
from .support import DATA, run_one

NDJSON = DATA / "k6-out.ndjson"
#: The last sample of k6-out.ndjson, 10:00:10+02:00.
NDJSON_LAST_SAMPLE = datetime(2025, 6, 2, 8, 0, 10, tzinfo=UTC)


#: A handleSummary document has no time of its own; the copies get this mtime.
WRITTEN = datetime(2025, 6, 2, 11, 0, tzinfo=UTC)


def copy_written_at(tmp_path: Path, name: str, when: datetime = WRITTEN) -> Path:
    copy = tmp_path / name
    copy.write_bytes((DATA / name).read_bytes())
    os.utime(copy, (when.timestamp(), when.timestamp()))
    return copy


async def test_handle_summary_passes_on_its_thresholds(tmp_path: Path) -> None:
    copy = copy_written_at(tmp_path, "k6-handle-summary.json")
    result = await run_one({"type": "k6", "summary": "k6-handle-summary.json"}, base_dir=tmp_path)

    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["FORMAT"] == "handle-summary"
    assert observed["P95_MS"] == 148.2
    assert observed["P90_MS"] == 146.8
    assert "P99_MS" not in observed  # not in the default summaryTrendStats: not observed, not 0
    assert observed["ERROR_RATE"] == 0.0
    assert observed["FAILED_REQUESTS"] == 0  # `passes` of http_req_failed: failed requests
    assert observed["REQUESTS"] == 180
    assert observed["RPS"] == pytest.approx(5.997541)
    assert observed["DURATION_S"] == pytest.approx(30.0123)
    # Checks of the root group, of "login" and of the nested "login::mfa" group.
    assert (observed["CHECKS_PASSED"], observed["CHECKS_FAILED"]) == (191, 1)
    assert observed["THRESHOLDS_OK"] is True
    assert observed["THRESHOLDS_FAILED"] == []
    assert observed["THRESHOLDS"]["http_req_duration{expected_response:true}"] == {"p(95)<400": True}
    # No timestamp inside a handleSummary document: the file's own age counts.
    assert result.evidence is not None
    assert result.evidence.observed_at == WRITTEN
    assert result.evidence.source == str(copy)


async def test_failing_summary_shows_the_values_seen_and_the_limits(tmp_path: Path) -> None:
    copy_written_at(tmp_path, "k6-handle-summary-failing.json")
    result = await run_one(
        {"type": "k6", "summary": "k6-handle-summary-failing.json"},
        conditions=["[P95_MS] < 500", "[ERROR_RATE] < 1%", "[P99_MS] < 1500", "[RPS] > 1000"],
        base_dir=tmp_path,
    )

    assert result.status == Status.FAIL
    assert "[P95_MS] = 612.4 ms, limit < 500 ms" in result.message
    # passes=5 of 200 requests failed: 2.5 %, not 97.5 %.
    assert "[ERROR_RATE] = 2.5%, limit < 1%" in result.message
    assert "[RPS] = 5 req/s, limit > 1000 req/s" in result.message
    assert "P99_MS" not in result.message  # 1450.9 < 1500 holds
    assert result.observed["P99_MS"] == 1450.9


async def test_failed_thresholds_fail_the_default_condition_and_are_named(tmp_path: Path) -> None:
    copy_written_at(tmp_path, "k6-handle-summary-failing.json")
    result = await run_one({"type": "k6", "summary": "k6-handle-summary-failing.json"}, base_dir=tmp_path)

    assert result.status == Status.FAIL
    assert result.observed["THRESHOLDS_FAILED"] == [
        "http_req_duration: p(95)<500",
        "http_req_failed: rate<0.01",
    ]
    assert "[THRESHOLDS_OK] = false, limit == true" in result.message
    assert "failed thresholds: http_req_duration: p(95)<500; http_req_failed: rate<0.01" in result.message


async def test_summary_export_thresholds_are_inverted_and_groups_are_objects(tmp_path: Path) -> None:
    copy_written_at(tmp_path, "k6-summary-export.json")
    result = await run_one({"type": "k6", "summary": "k6-summary-export.json"}, base_dir=tmp_path)

    observed = result.observed
    assert observed["FORMAT"] == "summary-export"
    # {"p(95)<500": false, "p(99)<1500": true}: true means FAILED in the export.
    assert observed["THRESHOLDS"]["http_req_duration"] == {"p(95)<500": True, "p(99)<1500": False}
    assert observed["THRESHOLDS_FAILED"] == ["http_req_duration: p(99)<1500"]
    assert result.status == Status.FAIL
    assert observed["ERROR_RATE"] == 1.0  # rate metrics say `value` in the export
    assert observed["FAILED_REQUESTS"] == 3
    assert observed["P99_MS"] == 1580.2
    assert observed["RPS"] == 10
    assert observed["DURATION_S"] == 30.0  # count / rate: the export drops `state`
    assert (observed["CHECKS_PASSED"], observed["CHECKS_FAILED"]) == (494, 6)


async def test_machine_readable_summary_has_no_threshold_results() -> None:
    result = await run_one({"type": "k6", "summary": "k6-machine-readable.json"}, max_age="7d")

    observed = result.observed
    assert observed["FORMAT"] == "machine-readable"
    for absent in ("THRESHOLDS", "THRESHOLDS_OK", "P99_MS"):
        assert absent not in observed
    assert observed["THRESHOLDS_FAILED"] == []
    # No threshold was evaluated: a WARN that says so, not a failure of the run.
    assert result.status == Status.WARN
    assert "[THRESHOLDS_OK] = (not observed), limit == true" in result.message
    assert "carries no threshold results" in result.message
    # k6 1.5 writes the percentiles as p90/p95: they are read.
    assert observed["P95_MS"] == 301.8
    assert observed["P90_MS"] == 260.3
    assert observed["ERROR_RATE"] == 2.0  # {matches: 12, rate: 0.02, total: 600}
    assert observed["FAILED_REQUESTS"] == 12
    assert observed["REQUESTS"] == 600
    assert observed["DURATION_S"] == 60
    assert observed["RPS"] == 10.0  # count / config.duration
    assert (observed["CHECKS_PASSED"], observed["CHECKS_FAILED"]) == (1186, 14)
    assert result.evidence is not None
    assert result.evidence.observed_at == datetime(2025, 6, 2, 7, 30, 0, 123456, tzinfo=UTC)


async def test_machine_readable_summary_passes_on_explicit_conditions() -> None:
    result = await run_one(
        {"type": "k6", "summary": "k6-machine-readable.json"},
        conditions=["[P95_MS] < 500", "[ERROR_RATE] < 5%", "[RPS] >= 10"],
        max_age="7d",
    )
    assert result.status == Status.PASS, result.message


async def test_summary_older_than_max_age_is_stale() -> None:
    # generatedAt 07:30 UTC; the run is at 12:00 and the item allows 1 hour.
    result = await run_one(
        {"type": "k6", "summary": "k6-machine-readable.json"},
        conditions=["[P95_MS] < 500"],
        max_age="1h",
    )
    assert result.status == Status.STALE
    assert result.raw_status == Status.PASS
    assert result.message.startswith("evidence is 4.5h old, older than the 1.0h allowed")


async def test_json_output_statistics_are_computed_from_the_samples() -> None:
    result = await run_one({"type": "k6", "summary": "k6-out.ndjson"}, conditions=["[P95_MS] < 500"])

    observed = result.observed
    assert result.status == Status.PASS, result.message
    assert observed["FORMAT"] == "json-output"
    # Durations 80 88 95 99 101 120 130 140 210 450, interpolated between closest ranks.
    assert observed["P95_MS"] == pytest.approx(342.0)
    assert observed["P90_MS"] == pytest.approx(234.0)
    assert observed["P99_MS"] == pytest.approx(428.4)
    assert observed["MED_MS"] == pytest.approx(110.5)
    assert observed["AVG_MS"] == pytest.approx(151.3)
    assert observed["MAX_MS"] == 450
    assert observed["ERROR_RATE"] == 10.0
    assert observed["REQUESTS"] == 10
    assert observed["DURATION_S"] == 10.0
    assert observed["RPS"] == 1.0
    assert (observed["CHECKS_PASSED"], observed["CHECKS_FAILED"]) == (9, 1)
    assert "THRESHOLDS_OK" not in observed
    assert result.evidence is not None
    assert result.evidence.observed_at == NDJSON_LAST_SAMPLE


async def test_json_output_default_condition_explains_missing_thresholds() -> None:
    result = await run_one({"type": "k6", "summary": "k6-out.ndjson"})
    assert result.status == Status.WARN
    assert "2 threshold(s) declared in the run are not evaluated" in result.message


async def test_gzipped_json_output_is_detected_by_its_magic(tmp_path: Path) -> None:
    # No .gz suffix: the content decides.
    (tmp_path / "k6-results.json").write_bytes(gzip.compress(NDJSON.read_bytes()))
    plain = await run_one({"type": "k6", "summary": str(NDJSON)}, conditions=["[P95_MS] < 500"])
    packed = await run_one(
        {"type": "k6", "summary": "k6-results.json"}, conditions=["[P95_MS] < 500"], base_dir=tmp_path
    )
    assert packed.status == Status.PASS
    assert packed.observed == plain.observed


async def test_sub_metric_selects_points_by_tag() -> None:
    result = await run_one(
        {
            "type": "k6",
            "summary": "k6-out.ndjson",
            "metrics": {"duration": "http_req_duration{expected_response:true}"},
        },
        conditions=["[P95_MS] < 200"],
    )
    assert result.status == Status.PASS, result.message
    assert result.observed["P95_MS"] == pytest.approx(182.0)  # the 503 at 450 ms is left out
    assert result.observed["MAX_MS"] == 210


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("k6-truncated.json", "k6-truncated.json: the k6 summary is not valid JSON"),
        ("not-k6.json", "not-k6.json: not a k6 summary"),
        ("garbage.bin", "garbage.bin: not a text report (invalid UTF-8"),
        ("no-such-summary.json", "report not found:"),
    ],
)
async def test_unreadable_summaries_are_errors_with_a_clear_message(name: str, expected: str) -> None:
    result = await run_one({"type": "k6", "summary": name})
    assert result.status == Status.ERROR
    assert expected in result.message
    assert "Traceback" not in result.message


async def test_truncated_json_output_names_the_line(tmp_path: Path) -> None:
    content = NDJSON.read_bytes()
    (tmp_path / "cut.ndjson").write_bytes(content[: len(content) - 40])
    (tmp_path / "cut.gz").write_bytes(gzip.compress(content)[:-30])

    cut = await run_one({"type": "k6", "summary": "cut.ndjson"}, base_dir=tmp_path)
    assert cut.status == Status.ERROR
    assert "cut.ndjson: line 47 is not valid JSON" in cut.message
    assert "truncated" in cut.message
    cut_gzip = await run_one({"type": "k6", "summary": "cut.gz"}, base_dir=tmp_path)
    assert cut_gzip.status == Status.ERROR
    assert "cut.gz: the gzip data is truncated" in cut_gzip.message


async def test_summary_over_http_takes_its_age_from_last_modified(report_server: ReportServer) -> None:
    url = f"{report_server.url}/reports/k6-handle-summary.json"
    fresh = await run_one({"type": "k6", "summary": url})
    assert fresh.status == Status.PASS, fresh.message
    assert fresh.evidence is not None
    assert fresh.evidence.observed_at == datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    assert fresh.evidence.link == url

    old = await run_one({"type": "k6", "summary": f"{report_server.url}/old/k6-handle-summary.json"})
    assert old.status == Status.STALE
    assert old.raw_status == Status.PASS


async def test_summary_url_errors(report_server: ReportServer, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = await run_one({"type": "k6", "summary": f"{report_server.url}/reports/nope.json"})
    assert missing.status == Status.ERROR
    assert missing.message == f"report {report_server.url}/reports/nope.json: HTTP 404"

    private = f"{report_server.url}/private/k6-handle-summary.json"
    refused = await run_one({"type": "k6", "summary": private})
    assert refused.status == Status.ERROR
    assert "HTTP 401, not authorised" in refused.message

    monkeypatch.setenv("GOLIVE_TEST_K6_TOKEN", TOKEN)
    allowed = await run_one(
        {"type": "k6", "summary": private, "auth": {"bearer": {"env": "GOLIVE_TEST_K6_TOKEN"}}}
    )
    assert allowed.status == Status.PASS, allowed.message


# The pure half: parsing without I/O.


def test_p99_is_absent_when_not_configured_but_zero_when_it_is_zero() -> None:
    document = (DATA / "k6-handle-summary.json").read_text().replace('"p(95)": 148.2', '"p(95)": 0')
    values = parse_k6(document.encode(), "inline", MetricNames(), 1 << 20).values()
    assert values["P95_MS"] == 0
    assert "P99_MS" not in values


def test_handle_summary_without_thresholds_does_not_claim_they_are_met() -> None:
    document = b'{"options": {}, "state": {"testRunDurationMs": 1000}, "metrics": {}}'
    result = parse_k6(document, "inline", MetricNames(), 1 << 20)
    values = result.values()
    assert values["THRESHOLDS_FAILED"] == []
    assert "THRESHOLDS_OK" not in values
    assert "REQUESTS" not in values  # no http_reqs metric: not observed
    assert result.unjudged == "the k6 script defines no thresholds"
    assert result.notes == []


def test_machine_readable_summary_in_the_schema_spelling_is_read_too() -> None:
    # The published schema spells the percentiles p(95) and the time generatedAt.
    document = {
        "version": "1.0.0",
        "metadata": {"generatedAt": "2025-06-02T07:30:00Z", "k6Version": "1.5.0"},
        "config": {"duration": 10},
        "results": {
            "metrics": [
                {"name": "http_req_duration", "type": "trend", "contains": "time", "values": {"p(95)": 99.5}}
            ]
        },
    }
    result = parse_k6(json.dumps(document).encode(), "schema.json", MetricNames(), 1 << 20)
    assert result.values()["P95_MS"] == 99.5
    assert result.produced_at == datetime(2025, 6, 2, 7, 30, tzinfo=UTC)


def test_compact_single_line_summary_is_read() -> None:
    document = b'{"metrics": {"http_reqs": {"count": 3, "rate": 1.5}}}'
    values = parse_k6(document, "inline", MetricNames(), 1 << 20).values()
    assert values["FORMAT"] == "summary-export"
    assert values["REQUESTS"] == 3


def test_empty_summary() -> None:
    with pytest.raises(ProbeError, match=r"empty.json: the k6 summary is empty"):
        parse_k6(b"", "empty.json", MetricNames(), 1 << 20)


def test_unsupported_machine_readable_version() -> None:
    with pytest.raises(ProbeError, match=r"version '2.0.0' is not supported"):
        parse_k6(b'{"version": "2.0.0", "results": {}}', "new.json", MetricNames(), 1 << 20)


def test_wrong_shape_names_the_field() -> None:
    document = b'{"state": {}, "metrics": {"http_req_duration": {"values": [1, 2]}}}'
    with pytest.raises(ProbeError, match=r"x.json: metrics.http_req_duration.values should be an object"):
        parse_k6(document, "x.json", MetricNames(), 1 << 20)


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"0" * (2 << 20))
    with pytest.raises(ProbeError, match="decompresses to more than"):
        parse_k6(bomb, "bomb.gz", MetricNames(), 1 << 20)


def test_trend_stats_interpolate_between_closest_ranks() -> None:
    assert trend_stats([]) == {}
    assert trend_stats([7.0])["p(95)"] == 7.0
    stats = trend_stats([float(v) for v in range(1, 101)])
    assert stats["med"] == 50.5
    assert stats["p(95)"] == pytest.approx(95.05)
    assert stats["max"] == 100


def test_selector_parses_sub_metrics() -> None:
    selector = Selector.parse('http_req_duration{status:200, method:"GET"}')
    assert selector == Selector("http_req_duration", (("status", "200"), ("method", "GET")))
    assert selector.matches("http_req_duration", {"status": "200", "method": "GET", "url": "x"})
    assert not selector.matches("http_req_duration", {})
    assert Selector.parse("http_reqs").matches("http_reqs", {})


async def test_script_without_thresholds_warns_and_keeps_its_measurements(tmp_path: Path) -> None:
    document = json.loads((DATA / "k6-handle-summary.json").read_text())
    for metric in document["metrics"].values():
        metric.pop("thresholds", None)
    (tmp_path / "k6-summary.json").write_text(json.dumps(document))
    os.utime(tmp_path / "k6-summary.json", (WRITTEN.timestamp(), WRITTEN.timestamp()))

    run = await run_one({"type": "k6", "summary": "k6-summary.json"}, base_dir=tmp_path)
    assert run.status == Status.WARN, run.message
    assert "the k6 script defines no thresholds" in run.message
    assert run.observed["THRESHOLDS_FAILED"] == []

    latency = await run_one(
        {"type": "k6", "summary": "k6-summary.json"}, conditions=["[P95_MS] < 500"], base_dir=tmp_path
    )
    assert latency.status == Status.PASS, latency.message
