"""The prometheus probe types load from YAML (examples, defaults), reject bad parameters at
load naming item and field, and say what is wrong when the URL does not lead to the API."""

from __future__ import annotations

import pytest

from golive.checks.errors import ChecklistError
from golive.checks.loader import loads
from golive.checks.probe import all_probe_types
from golive.checks.status import Status

from .fake_prometheus import Canned, fake_prometheus
from .support import checklist_yaml, item, run_one

PROMETHEUS_TYPES = [
    "prometheus_query",
    "prometheus_rules",
    "prometheus_targets",
    "prometheus_retention",
    "prometheus_ready",
]
URL = "http://prometheus.example.com:9090"


@pytest.mark.parametrize("name", PROMETHEUS_TYPES)
def test_example_loads_with_the_default_conditions(name: str) -> None:
    probe_type = all_probe_types()[name]
    checklist = loads(checklist_yaml(item("example", dict(probe_type.example))), env={})
    loaded = checklist.item("example")
    assert isinstance(loaded.config, probe_type.config_model)
    assert [c.text for c in loaded.parsed_conditions] == list(probe_type.default_conditions)
    names = [v.name for v in probe_type.values]
    assert len(names) == len(set(names))


def test_bad_parameters_fail_at_load() -> None:
    text = checklist_yaml(
        item("creds", {"type": "prometheus_ready", "url": "http://admin:pw@prometheus:9090"}),
        item("query-in-url", {"type": "prometheus_ready", "url": f"{URL}/api/v1/query?query=up"}),
        item("empty-query", {"type": "prometheus_query", "url": URL, "query": ""}),
        item("rule-type", {"type": "prometheus_rules", "url": URL, "rule_type": "alerting"}),
        item("typo", {"type": "prometheus_targets", "url": URL, "job": ["api"]}),
        item("wrong-value", {"type": "prometheus_query", "url": URL, "query": "up"}, conditions=["[UP] > 0"]),
    )
    with pytest.raises(ChecklistError) as raised:
        loads(text, env={})
    problems = {(p.where, p.field): p.message for p in raised.value.problems}
    assert "credentials in the URL are not allowed" in problems[("item creds", "probe.url")]
    assert "without ?query" in problems[("item query-in-url", "probe.url")]
    assert ("item empty-query", "probe.query") in problems
    assert ("item rule-type", "probe.rule_type") in problems
    assert problems[("item typo", "probe.job")] == "unknown parameter for probe type 'prometheus_targets'"
    assert "unknown value '[UP]'" in problems[("item wrong-value", "conditions[0]")]


async def test_a_redirect_is_not_followed() -> None:
    with fake_prometheus({"/-/ready": Canned(302, b"", {"Location": "/login"})}) as url:
        result = await run_one({"type": "prometheus_ready", "url": url})
    assert result.status == Status.ERROR
    assert result.message.startswith(f"Prometheus at {url}/-/ready redirects to /login (HTTP 302)")


async def test_an_answer_without_the_api_envelope() -> None:
    page = Canned(200, b"<html>Grafana</html>", {"Content-Type": "text/html"})
    with fake_prometheus({"/api/v1/targets": page}) as url:
        result = await run_one({"type": "prometheus_targets", "url": url})
    assert result.status == Status.ERROR
    assert result.message == (
        f"Prometheus at {url}/api/v1/targets?state=active answered HTTP 200 without the API's "
        "envelope; is url the base URL of Prometheus?"
    )
