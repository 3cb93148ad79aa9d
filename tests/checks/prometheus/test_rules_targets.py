"""prometheus_rules and prometheus_targets against a real Prometheus with a healthy
alerting group, a recording group, a rule that fails at every evaluation and a target
that is down (see conftest)."""

from __future__ import annotations

import pytest

from golive.checks.status import Status

from .conftest import MANY_TO_MANY, Scenario
from .support import run_one

pytestmark = pytest.mark.services


def rules(url: str, **config: object) -> dict[str, object]:
    return {"type": "prometheus_rules", "url": url, **config}


def targets(url: str, **config: object) -> dict[str, object]:
    return {"type": "prometheus_targets", "url": url, **config}


async def test_healthy_alerting_rules_with_required_names(prometheus: Scenario) -> None:
    result = await run_one(
        rules(
            prometheus.url,
            rule_type="alert",
            groups=["erp-alerts"],
            rules=["PrometheusSelfScrape", "ErpApiDown"],
        ),
        conditions=["[RULES] == 2", "[UNHEALTHY] == 0", "len([MISSING_RULES]) == 0", "[FIRING] == 1"],
    )
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert (observed["ALERTING_RULES"], observed["RECORDING_RULES"], observed["GROUPS"]) == (2, 0, 1)
    assert observed["FIRING_RULES"] == ["PrometheusSelfScrape"]  # ErpApiDown is pending (for: 1h)
    assert observed["MISSING_GROUPS"] == []
    assert result.message == (
        "2 rule(s) in 1 group(s) (2 alerting, 0 recording); 1 alert(s) firing: PrometheusSelfScrape"
    )


async def test_a_rule_failing_at_evaluation_fails_the_default_conditions(prometheus: Scenario) -> None:
    result = await run_one(rules(prometheus.url))
    assert result.status == Status.FAIL
    observed = result.observed
    assert (observed["RULES"], observed["ALERTING_RULES"], observed["RECORDING_RULES"]) == (4, 2, 2)
    assert observed["UNHEALTHY"] == 1
    [unhealthy] = observed["UNHEALTHY_RULES"]
    assert unhealthy.startswith(
        "erp-broken/broken:many_to_many: found duplicate series for the match group {}"
    )
    assert unhealthy.endswith(MANY_TO_MANY)
    # The message names the rule and Prometheus' lastError, then the failed condition.
    assert "1 unhealthy: erp-broken/broken:many_to_many: found duplicate series" in result.message
    assert "[UNHEALTHY] = 1, limit == 0" in result.message


async def test_missing_recording_rules_and_groups_are_named(prometheus: Scenario) -> None:
    result = await run_one(
        rules(
            prometheus.url,
            rule_type="record",
            groups=["erp-recording", "erp-slo"],
            rules=["job:up:sum", "job:http_requests:rate5m"],
        )
    )
    assert result.status == Status.FAIL
    assert result.observed["MISSING_GROUPS"] == ["erp-slo"]
    assert result.observed["MISSING_RULES"] == ["job:http_requests:rate5m"]
    assert result.observed["ALERTING_RULES"] == 0
    assert "missing group(s): erp-slo" in result.message
    assert "missing rule(s): job:http_requests:rate5m" in result.message
    assert "len([MISSING_RULES]) = 1, limit == 0" in result.message


async def test_a_down_target_fails_the_default_conditions(prometheus: Scenario) -> None:
    result = await run_one(targets(prometheus.url))
    assert result.status == Status.FAIL
    observed = result.observed
    assert (observed["TARGETS"], observed["UP"], observed["DOWN"], observed["UNKNOWN"]) == (2, 1, 1, 0)
    assert observed["JOBS"] == {
        "erp-api": {"up": 0, "down": 1, "unknown": 0},
        "prometheus": {"up": 1, "down": 0, "unknown": 0},
    }
    [down] = observed["DOWN_TARGETS"]
    assert down.startswith(f"erp-api 127.0.0.1:{prometheus.down_port}: Get ")
    assert down.endswith("connect: connection refused")
    assert f"down: erp-api 127.0.0.1:{prometheus.down_port}" in result.message
    assert "[DOWN] = 1, limit == 0" in result.message


async def test_targets_of_the_named_jobs_only(prometheus: Scenario) -> None:
    healthy = await run_one(targets(prometheus.url, jobs=["prometheus"]))
    assert healthy.status == Status.PASS, healthy.message
    assert (healthy.observed["UP"], healthy.observed["DOWN"]) == (1, 0)
    assert healthy.message == "1 target(s) up, 0 down"

    missing = await run_one(targets(prometheus.url, jobs=["prometheus", "erp-worker"]))
    assert missing.status == Status.FAIL
    assert missing.observed["MISSING_JOBS"] == ["erp-worker"]
    assert "no active target for job(s): erp-worker" in missing.message
