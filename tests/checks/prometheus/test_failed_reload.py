"""A Prometheus whose last configuration reload failed keeps serving the rules and
targets of the configuration it loaded before: a real server, reloaded with an invalid
rules file (``POST /-/reload``), must not pass as healthy."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import yaml

from golive.checks.loader import load
from golive.checks.runner import run_checklist
from golive.checks.status import Status
from tests.checks.test_bundled_checklist import BUNDLED
from tests.services.prometheus import PrometheusServer

from .conftest import require_prometheus
from .support import run_one

pytestmark = pytest.mark.services

GOOD_RULES = yaml.safe_dump(
    {
        "groups": [
            {
                "name": "erp-alerts",
                "rules": [{"alert": "AlwaysQuiet", "expr": "vector(1) == 0"}],
            },
            {"name": "erp-recording", "rules": [{"record": "job:up:sum", "expr": "sum by (job) (up)"}]},
        ]
    }
)
#: An unclosed parenthesis: Prometheus refuses the whole reload and keeps the old rules.
BROKEN_RULES = GOOD_RULES.replace("vector(1) == 0", "vector(1 == 0")


def _reload(server: PrometheusServer) -> httpx.Response:
    return httpx.post(server.url + "/-/reload", timeout=10)


@pytest.fixture(scope="module")
def failed_reload() -> Iterator[PrometheusServer]:
    require_prometheus()
    server = PrometheusServer(rules={"erp.rules.yml": GOOD_RULES}, args=["--web.enable-lifecycle"])
    with server:
        server.wait_for_targets(1)
        server.wait_for_rules()
        (server.root / "erp.rules.yml").write_text(BROKEN_RULES)
        assert _reload(server).status_code == 500
        server.wait_for(
            "the failed reload to show",
            lambda: server.get_json("/api/v1/status/runtimeinfo")["data"]["reloadConfigSuccess"] is False,
        )
        yield server


@pytest.mark.parametrize("rule_type", ["alert", "record"])
async def test_rules_after_a_failed_reload_fail(failed_reload: PrometheusServer, rule_type: str) -> None:
    result = await run_one({"type": "prometheus_rules", "url": failed_reload.url, "rule_type": rule_type})
    assert result.status == Status.FAIL, result.message
    assert result.observed["CONFIG_RELOAD_OK"] is False
    loaded_at = failed_reload.get_json("/api/v1/status/runtimeinfo")["data"]["lastConfigTime"]
    assert result.observed["CONFIG_LOADED_AT"] == loaded_at
    # The old rules are still served, and still counted.
    assert result.observed["RULES"] == 1
    assert "the last configuration reload failed" in result.message
    assert f"the rules shown are from the configuration loaded at {loaded_at}" in result.message
    assert "[CONFIG_RELOAD_OK] = false" in result.message


async def test_targets_after_a_failed_reload_fail(failed_reload: PrometheusServer) -> None:
    result = await run_one({"type": "prometheus_targets", "url": failed_reload.url})
    assert result.status == Status.FAIL, result.message
    assert result.observed["UP"] == 1
    assert "the targets shown are from the configuration loaded at" in result.message


async def test_a_checklist_may_take_a_failed_reload_as_a_warning(failed_reload: PrometheusServer) -> None:
    result = await run_one(
        {"type": "prometheus_rules", "url": failed_reload.url, "rule_type": "alert"},
        conditions=["[RULES] > 0"],
        warn_conditions=["[CONFIG_RELOAD_OK] == true"],
        allow_warn=True,
    )
    assert result.status == Status.WARN, result.message
    assert "the last configuration reload failed" in result.message


async def test_the_bundled_checklist_rules_items_fail_after_a_failed_reload(
    failed_reload: PrometheusServer,
) -> None:
    checklist = load(BUNDLED, env={"GOLIVE_PROMETHEUS_URL": failed_reload.url})
    results = (await run_checklist(checklist, phase="p5")).results
    for item_id in ("alert-rules", "recording-rules", "metrics-collected"):
        assert results[item_id].status == Status.FAIL, f"{item_id}: {results[item_id].message}"
        assert "the last configuration reload failed" in results[item_id].message


async def test_a_reload_that_succeeds_again_passes(failed_reload: PrometheusServer) -> None:
    # Last in this module: it repairs the server the others read.
    (failed_reload.root / "erp.rules.yml").write_text(GOOD_RULES)
    assert _reload(failed_reload).status_code == 200
    result = await run_one({"type": "prometheus_rules", "url": failed_reload.url})
    assert result.status == Status.PASS, result.message
    assert result.observed["CONFIG_RELOAD_OK"] is True
    assert "reload" not in result.message
