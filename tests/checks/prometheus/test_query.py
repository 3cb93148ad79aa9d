"""prometheus_query against a real Prometheus: values, series, live P95/error rate/throughput,
empty vectors, NaN, and the errors Prometheus answers for bad PromQL."""

from __future__ import annotations

import json

import pytest

from golive.checks.status import Status

from .conftest import MANY_TO_MANY, MANY_TO_MANY_QUERY, Scenario
from .support import run, run_one

pytestmark = pytest.mark.services


def query(url: str, promql: str) -> dict[str, object]:
    return {"type": "prometheus_query", "url": url, "query": promql}


async def test_one_sample_is_the_value(prometheus: Scenario) -> None:
    result = await run_one(query(prometheus.url, "sum(up)"), conditions=["[VALUE] == 1", "[SERIES] == 1"])
    assert result.status == Status.PASS, result.message
    assert result.observed["VALUE"] == 1.0
    assert result.observed["SERIES"] == 1
    assert result.observed["RESULT_TYPE"] == "vector"
    assert result.observed["VALUES"] == {"{}": 1.0}
    assert result.evidence is not None
    assert result.evidence.source == f"{prometheus.url}/api/v1/query"
    assert result.evidence.link is not None and result.evidence.link.startswith(
        f"{prometheus.url}/graph?g0.expr="
    )


async def test_a_pass_says_what_was_measured(prometheus: Scenario) -> None:
    aggregated = await run_one(query(prometheus.url, "sum(up)"))
    assert aggregated.status == Status.PASS, aggregated.message
    assert aggregated.message == "sum(up) = 1"
    # A raw series shows its labels; a long query is shortened, not dropped.
    padded = 'up{job="prometheus"}' + " > -1" * 30
    labelled = await run_one(query(prometheus.url, padded))
    instance = f"127.0.0.1:{prometheus.server.port}"
    assert labelled.message.endswith(f': up{{instance="{instance}",job="prometheus"}} = 1'), labelled.message
    assert labelled.message.startswith('up{job="prometheus"}')
    assert "…" in labelled.message and len(labelled.message) < 200
    several = await run_one(query(prometheus.url, "sum by (job) (up)"))
    assert several.message.startswith(
        'sum by (job) (up): 2 series, {job="erp-api"} = 0, {job="prometheus"} = 1'
    ), several.message


async def test_several_series_are_values_by_series_and_no_single_value(prometheus: Scenario) -> None:
    result = await run_one(
        query(prometheus.url, "sum by (job) (up)"),
        conditions=['[VALUES].{job="prometheus"} == 1', '[VALUES].{job="erp-api"} == 0', "[SERIES] == 2"],
    )
    assert result.status == Status.PASS, result.message
    assert result.observed["VALUES"] == {'{job="erp-api"}': 0.0, '{job="prometheus"}': 1.0}
    assert "VALUE" not in result.observed
    # Raw series keep their metric name, as the Prometheus UI shows them.
    raw = await run_one(query(prometheus.url, 'up{job="prometheus"}'))
    assert list(raw.observed["VALUES"]) == [
        f'up{{instance="127.0.0.1:{prometheus.server.port}",job="prometheus"}}'
    ]


async def test_p95_error_rate_and_throughput_from_live_metrics(prometheus: Scenario) -> None:
    requests = "prometheus_http_requests_total"
    results = await run(
        {
            "id": "p95",
            "title": "P95 < 500ms",
            "probe": query(
                prometheus.url,
                "1000 * histogram_quantile(0.95, "
                "sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[1m])))",
            ),
            "conditions": ["[VALUE] < 500"],
        },
        {
            "id": "error-rate",
            "title": "Error rate < 1%",
            # `or vector(0)`: without 5xx the numerator is empty, and empty is not 0.
            "probe": query(
                prometheus.url,
                f'(sum(rate({requests}{{code=~"5.."}}[1m])) or vector(0)) / sum(rate({requests}[1m]))',
            ),
            "conditions": ["[VALUE] < 0.01"],
        },
        {
            "id": "throughput",
            "title": "Throughput",
            "probe": query(prometheus.url, f"sum(rate({requests}[1m]))"),
            "conditions": ["[VALUE] > 0"],
        },
    )
    for result in results.values():
        assert result.status == Status.PASS, f"{result.item_id}: {result.message}"
        assert isinstance(result.observed["VALUE"], float)


async def test_an_empty_vector_is_not_observed_and_not_zero(prometheus: Scenario) -> None:
    # erp-api is down, so none of its series exist: its error rate is unknown, not 0.
    promql = (
        'sum(rate(http_requests_total{job="erp-api",code=~"5.."}[1m]))'
        ' / sum(rate(http_requests_total{job="erp-api"}[1m]))'
    )
    result = await run_one(query(prometheus.url, promql), conditions=["[VALUE] < 0.01"])
    assert result.status == Status.FAIL
    assert "[VALUE] = (not observed), limit < 0.01" in result.message
    assert "no series: the query matched nothing" in result.message
    assert result.observed["SERIES"] == 0
    assert result.observed["VALUES"] == {}
    assert "VALUE" not in result.observed


async def test_default_condition_wants_a_series(prometheus: Scenario) -> None:
    result = await run_one(query(prometheus.url, "golive_metric_that_does_not_exist"))
    assert result.status == Status.FAIL
    assert "[SERIES] = 0, limit > 0" in result.message


@pytest.mark.parametrize(("promql", "shown"), [("0/0", "NaN"), ("1/0", "+Inf"), ("-1/0", "-Inf")])
async def test_nan_and_infinities_fail_a_limit_and_stay_json(
    prometheus: Scenario, promql: str, shown: str
) -> None:
    result = await run_one(query(prometheus.url, promql), conditions=["[VALUE] < 500"])
    assert result.observed["RESULT_TYPE"] == "scalar"
    assert result.observed["VALUE"] == shown
    assert result.message.startswith(f"{promql} = {shown}")
    expected = Status.PASS if shown == "-Inf" else Status.FAIL
    assert result.status == expected, result.message
    if expected == Status.FAIL:
        assert f"[VALUE] = {shown}, limit < 500" in result.message
    json.dumps(dict(result.observed), allow_nan=False)


async def test_a_string_result_is_the_value(prometheus: Scenario) -> None:
    result = await run_one(query(prometheus.url, '"golive"'), conditions=["[VALUE] == golive"])
    assert result.status == Status.PASS, result.message
    assert result.observed["RESULT_TYPE"] == "string"


async def test_a_promql_syntax_error_is_an_error_quoting_prometheus(prometheus: Scenario) -> None:
    broken = "sum(rate(prometheus_http_requests_total[1m])"
    result = await run_one(query(prometheus.url, broken))
    assert result.status == Status.ERROR
    assert result.message.startswith(
        f'Prometheus rejected the query {broken!r}: bad_data: invalid parameter "query": 1:'
    ), result.message
    assert "parse error" in result.message
    assert "TEMPORARY" not in result.observed  # the checklist must change, not the weather


async def test_a_query_that_cannot_execute_is_an_error(prometheus: Scenario) -> None:
    result = await run_one(query(prometheus.url, MANY_TO_MANY_QUERY))
    assert result.status == Status.ERROR
    assert ": execution: found duplicate series" in result.message
    assert MANY_TO_MANY in result.message
    assert "TEMPORARY" not in result.observed


async def test_a_range_vector_is_misconfigured(prometheus: Scenario) -> None:
    result = await run_one(query(prometheus.url, "up[1m]"))
    assert result.status == Status.ERROR
    assert "returns a range vector" in result.message


async def test_unreachable_prometheus_is_a_temporary_error(refused_port: int) -> None:
    result = await run_one(query(f"http://127.0.0.1:{refused_port}", "up"))
    assert result.status == Status.ERROR
    assert result.message == f"Prometheus: cannot connect to 127.0.0.1:{refused_port}: connection refused"
    assert result.observed == {"TEMPORARY": True}


async def test_a_url_that_is_not_the_base_url_says_so(prometheus: Scenario) -> None:
    result = await run_one(query(f"{prometheus.url}/prometheus", "up"))
    assert result.status == Status.ERROR
    assert "HTTP 404" in result.message
    assert "is url the base URL of Prometheus?" in result.message
