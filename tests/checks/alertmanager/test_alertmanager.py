"""The alertmanager probe against a real Alertmanager (see conftest)."""

from __future__ import annotations

import json

import pytest

from golive.checks.loader import loads
from golive.checks.probe import all_probe_types
from golive.checks.status import Status
from tests.services.prometheus import AlertmanagerServer

from .conftest import HOOK_SECRET
from .support import checklist_yaml, item, run_one


def alertmanager_probe(url: str, **config: object) -> dict[str, object]:
    return {"type": "alertmanager", "url": url, **config}


@pytest.mark.services
async def test_required_receivers_configured(alertmanager: AlertmanagerServer) -> None:
    result = await run_one(alertmanager_probe(alertmanager.url, receivers=["erp-oncall", "release-channel"]))
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["RECEIVERS"] == ["erp-oncall", "release-channel", "blackhole"]
    assert observed["RECEIVER_COUNT"] == 3
    assert observed["MISSING_RECEIVERS"] == []
    assert observed["EMPTY_RECEIVERS"] == ["blackhole"]
    assert observed["CLUSTER_STATUS"] == "disabled"
    assert observed["CLUSTER_PEERS"] == 0
    version = observed["VERSION"]
    assert version[:1].isdigit()
    assert result.message == (
        f"Alertmanager {version}, cluster disabled, 3 receiver(s): erp-oncall, release-channel, "
        "blackhole; receiver(s) without any notifier: blackhole"
    )
    assert result.evidence is not None and result.evidence.source == f"{alertmanager.url}/api/v2/receivers"
    # The loaded config (webhook URLs and their tokens) is read, never kept.
    assert HOOK_SECRET not in json.dumps([dict(observed), result.message])


@pytest.mark.services
async def test_a_missing_receiver_fails(alertmanager: AlertmanagerServer) -> None:
    result = await run_one(
        alertmanager_probe(alertmanager.url, receivers=["erp-oncall", "pagerduty-critical"])
    )
    assert result.status == Status.FAIL
    assert result.observed["MISSING_RECEIVERS"] == ["pagerduty-critical"]
    assert "missing receiver(s): pagerduty-critical" in result.message
    assert "len([MISSING_RECEIVERS]) = 1, limit == 0" in result.message


@pytest.mark.services
async def test_a_receiver_without_notifiers_can_be_refused(alertmanager: AlertmanagerServer) -> None:
    result = await run_one(alertmanager_probe(alertmanager.url), conditions=["len([EMPTY_RECEIVERS]) == 0"])
    assert result.status == Status.FAIL
    assert "receiver(s) without any notifier: blackhole" in result.message


@pytest.mark.services
async def test_a_cluster_still_settling_fails(alertmanager: AlertmanagerServer) -> None:
    # Settling takes three stable checks 10 gossip intervals apart: with 2 s, a minute.
    settling = AlertmanagerServer(
        config=alertmanager.config, cluster=True, args=["--cluster.gossip-interval=2s"]
    )
    with settling:
        result = await run_one(alertmanager_probe(settling.url))
    assert result.status == Status.FAIL
    assert result.observed["CLUSTER_STATUS"] == "settling"
    assert result.observed["CLUSTER_PEERS"] == 1
    assert "cluster settling" in result.message
    assert "[CLUSTER_STATUS] = settling, limit == any(ready, disabled)" in result.message


async def test_unreachable_alertmanager_is_a_temporary_error(refused_port: int) -> None:
    result = await run_one(alertmanager_probe(f"http://127.0.0.1:{refused_port}"))
    assert result.status == Status.ERROR
    assert result.message == f"Alertmanager: cannot connect to 127.0.0.1:{refused_port}: connection refused"
    assert result.observed == {"TEMPORARY": True}


@pytest.mark.services
async def test_a_url_below_the_base_is_misconfigured(alertmanager: AlertmanagerServer) -> None:
    result = await run_one(alertmanager_probe(f"{alertmanager.url}/alertmanager"))
    assert result.status == Status.ERROR
    assert result.message == (
        f"Alertmanager: {alertmanager.url}/alertmanager/api/v2/status not found "
        "(HTTP 404: 404 page not found); is url the base URL of Alertmanager?"
    )
    assert "TEMPORARY" not in result.observed


def test_example_loads_with_the_default_conditions() -> None:
    probe_type = all_probe_types()["alertmanager"]
    checklist = loads(checklist_yaml(item("example", dict(probe_type.example))), env={})
    loaded = checklist.item("example")
    assert isinstance(loaded.config, probe_type.config_model)
    assert [c.text for c in loaded.parsed_conditions] == list(probe_type.default_conditions)
