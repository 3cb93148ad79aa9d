"""monitoring/: the alert rules pass ``promtool check rules`` and their unit tests
(``promtool test rules``); the dashboard's queries parse, and every rule and panel names
only metrics golive exports (scraped from /metrics), so none of them watches nothing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from golive.bot.serve.http import http_app
from tests.services import require_service

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
RULES = MONITORING / "golive-rules.yaml"
RULE_TESTS = MONITORING / "golive-rules.test.yaml"
DASHBOARD = MONITORING / "golive-dashboard.json"
#: Series Prometheus makes itself for every target, not golive.
PROMETHEUS_OWN = {"up"}
#: What is not a metric name in our expressions: functions are followed by "(" and
#: grouping labels are removed before; these are the keywords left.
KEYWORDS = {"and", "or", "unless", "bool", "offset"}
#: Grafana's variables, replaced by what they stand for when a dashboard is shown.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$job": "golive", "${job}": "golive"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        require_service("promtool", "no 'promtool' binary; install the Debian package 'prometheus'")
    return found


def run_promtool(*args: str | Path) -> str:
    done = subprocess.run(
        [promtool(), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings may hold anything
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?", expr):
        word = match.group(0).rstrip("( \t\n")
        if match.group(1) is None and word not in KEYWORDS and not re.fullmatch(r"\d.*", word):
            names.add(word)
    return names


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, expression with Grafana's variables filled in) of every query."""
    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    found = []
    for panel in panels(json.loads(DASHBOARD.read_text())["panels"]):
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found.append((panel["title"], expr))
    return found


def rule_exprs() -> list[tuple[str, str]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [(rule["alert"], rule["expr"]) for group in groups for rule in group["rules"]]


@pytest.fixture
async def exported() -> set[str]:
    """Every series name golive's /metrics offers, also those with no labels seen yet."""
    runner = web.AppRunner(http_app(None))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        await runner.cleanup()
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


@pytest.mark.services
def test_alert_rules_are_valid() -> None:
    assert "SUCCESS: 8 rules found" in run_promtool("check", "rules", RULES)


@pytest.mark.services
def test_alert_rules_pass_their_unit_tests() -> None:
    assert "SUCCESS" in run_promtool("test", "rules", RULE_TESTS)


@pytest.mark.services
def test_dashboard_queries_parse(tmp_path: Path) -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 15
    rules = [{"record": f"dashboard:query_{n}", "expr": expr} for n, (_, expr) in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(exprs)} rules found" in run_promtool("check", "rules", path)


def test_rules_and_dashboard_use_only_metrics_golive_exports(exported: set[str]) -> None:
    assert {"golive_runs_started_total", "golive_slack_api_errors_total", "golive_items"} <= exported
    for where, expr in rule_exprs() + dashboard_exprs():
        names = metric_names(expr)
        assert names, f"{where}: no metric found in {expr!r}"
        unknown = names - exported - PROMETHEUS_OWN
        assert not unknown, f"{where}: {sorted(unknown)} not exported by golive ({expr!r})"


def test_metric_names_are_found_in_promql() -> None:
    """The extraction the test above relies on, on the shapes the files use."""
    assert metric_names(
        'histogram_quantile(0.95, sum by (le, probe_type) (rate(golive_probe_duration_seconds_bucket'
        '{job="golive"}[1h])))'
    ) == {"golive_probe_duration_seconds_bucket"}
    assert metric_names(
        "time() - max by (job) (golive_run_last_completed_timestamp_seconds) > 3 * 3600\n"
        "and on (job)\nmax by (job) (golive_schedule_active) == 1"
    ) == {"golive_run_last_completed_timestamp_seconds", "golive_schedule_active"}
    assert metric_names('absent(up{job="golive"})') == {"up"}
    assert metric_names('count by (version) (golive_build_info{job="a:b{c}"})') == {"golive_build_info"}
