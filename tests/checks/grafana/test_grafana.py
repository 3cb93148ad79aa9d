"""The grafana probes against a local server speaking Grafana's HTTP API (fake_grafana)."""

from __future__ import annotations

import json

import pytest

from golive.checks.errors import ChecklistError
from golive.checks.loader import loads
from golive.checks.probe import all_probe_types
from golive.checks.status import Status

from .conftest import TOKEN_ENV, VIEWER_ENV, WRONG_ENV, Grafana
from .fake_grafana import ADMIN_TOKEN, VERSION, VIEWER_TOKEN
from .support import checklist_yaml, item, run_one

GRAFANA_TYPES = ["grafana_health", "grafana_dashboards", "grafana_alert_rules", "grafana_users"]


def probe(kind: str, url: str, *, token_env: str | None = TOKEN_ENV, **config: object) -> dict[str, object]:
    auth = {"auth": {"bearer": {"env": token_env}}} if token_env else {}
    return {"type": f"grafana_{kind}", "url": url, **auth, **config}


# -- health ------------------------------------------------------------------------------


async def test_healthy_grafana(grafana: Grafana) -> None:
    result = await run_one(probe("health", grafana.url, token_env=None))
    assert result.status == Status.PASS, result.message
    assert result.observed == {"DATABASE": "ok", "STATUS": 200, "VERSION": VERSION, "COMMIT": "0f8b3c2d1e"}
    assert result.message == f"Grafana {VERSION}: database ok (HTTP 200)"


async def test_a_failing_database_is_an_observation_not_an_error(grafana: Grafana) -> None:
    grafana.state.database_ok = False
    result = await run_one(probe("health", grafana.url, token_env=None))
    assert result.status == Status.FAIL
    assert result.observed["DATABASE"] == "failing"
    assert result.observed["STATUS"] == 503
    assert (
        result.message == f"Grafana {VERSION}: database failing (HTTP 503); [DATABASE] = failing, limit == ok"
    )


async def test_unreachable_grafana_is_a_temporary_error(refused_port: int) -> None:
    result = await run_one(probe("health", f"http://127.0.0.1:{refused_port}", token_env=None))
    assert result.status == Status.ERROR
    assert result.message == f"Grafana: cannot connect to 127.0.0.1:{refused_port}: connection refused"
    assert result.observed == {"TEMPORARY": True}


# -- dashboards --------------------------------------------------------------------------


async def test_dashboards_by_tag_are_searched_page_by_page(grafana: Grafana) -> None:
    result = await run_one(probe("dashboards", grafana.url, tags=["valeo-neuroerp"], page_size=2))
    assert result.status == Status.PASS, result.message
    assert result.observed["DASHBOARDS"] == 3
    assert result.observed["SEARCH_HITS"] == 3
    assert result.observed["TITLES"] == ["ERP Errors", "ERP Latency", "ERP Overview"]
    assert result.message == "3 dashboard(s), 3 tagged valeo-neuroerp"
    searches = [query for path, query, _ in grafana.state.requests if path == "/api/search"]
    assert [(q["page"], q["limit"], q["type"], q["tag"]) for q in searches] == [
        (["1"], ["2"], ["dash-db"], ["valeo-neuroerp"]),
        (["2"], ["2"], ["dash-db"], ["valeo-neuroerp"]),
    ]


async def test_several_tags_must_all_match(grafana: Grafana) -> None:
    result = await run_one(probe("dashboards", grafana.url, tags=["valeo-neuroerp", "slo"]))
    assert result.status == Status.PASS, result.message
    assert result.observed["TITLES"] == ["ERP Errors", "ERP Latency"]


async def test_no_dashboard_with_the_tag_fails(grafana: Grafana) -> None:
    result = await run_one(probe("dashboards", grafana.url, tags=["valeo-neuroerp-1.1"]))
    assert result.status == Status.FAIL
    assert "[DASHBOARDS] = 0, limit > 0" in result.message


async def test_a_missing_dashboard_uid_fails(grafana: Grafana) -> None:
    found = await run_one(probe("dashboards", grafana.url, uids=["backup-overview"]))
    assert found.status == Status.PASS, found.message
    assert found.observed["TITLES"] == ["Backup Overview"]
    assert "SEARCH_HITS" not in found.observed  # uids only: no search

    missing = await run_one(probe("dashboards", grafana.url, uids=["backup-overview", "erp-capacity"]))
    assert missing.status == Status.FAIL
    assert missing.observed["MISSING_UIDS"] == ["erp-capacity"]
    assert missing.observed["DASHBOARDS"] == 1
    assert "missing (or hidden from the token): erp-capacity" in missing.message
    assert "len([MISSING_UIDS]) = 1, limit == 0" in missing.message


async def test_without_uids_or_tags_every_dashboard_counts(grafana: Grafana) -> None:
    result = await run_one(probe("dashboards", grafana.url), conditions=["[DASHBOARDS] == 5"])
    assert result.status == Status.PASS, result.message  # the ERP folder is not a dashboard


# -- authentication ----------------------------------------------------------------------


async def test_a_wrong_token_is_an_error_not_authorised(grafana: Grafana) -> None:
    result = await run_one(probe("dashboards", grafana.url, token_env=WRONG_ENV, tags=["valeo-neuroerp"]))
    assert result.status == Status.ERROR
    assert result.message == (
        f"Grafana: not authorised (HTTP 401: Invalid API key): the bearer token from env {WRONG_ENV} "
        "was refused"
    )
    assert "TEMPORARY" not in result.observed


async def test_no_token_is_an_error_not_authorised(grafana: Grafana) -> None:
    result = await run_one(probe("alert_rules", grafana.url, token_env=None))
    assert result.status == Status.ERROR
    assert result.message == (
        "Grafana: not authorised (HTTP 401: Unauthorized): the request without credentials (set auth) "
        "was refused"
    )


async def test_a_token_without_the_permission_is_an_error(grafana: Grafana) -> None:
    result = await run_one(probe("users", grafana.url, token_env=VIEWER_ENV))
    assert result.status == Status.ERROR
    assert result.message.startswith(
        "Grafana: not authorised (HTTP 403: You'll need additional permissions to perform this action. "
        "Permissions needed: org.users:read): "
    )
    assert result.message.endswith(f"the bearer token from env {VIEWER_ENV} lacks a permission this needs")


async def test_the_org_header_is_sent_and_a_foreign_org_refused(grafana: Grafana) -> None:
    result = await run_one(probe("users", grafana.url, org_id=1))
    assert result.status == Status.PASS, result.message
    assert grafana.state.requests[-1] == ("/api/org/users", {}, "1")
    other = await run_one(probe("users", grafana.url, org_id=2))
    assert other.status == Status.ERROR
    assert "(HTTP 401: API key does not belong to the requested organization)" in other.message


async def test_tokens_never_appear_in_results(grafana: Grafana) -> None:
    results = [
        await run_one(probe(kind, grafana.url, token_env=env))
        for kind in ("dashboards", "alert_rules", "users")
        for env in (TOKEN_ENV, VIEWER_ENV, WRONG_ENV)
    ]
    for result in results:
        dumped = json.dumps([dict(result.observed), result.message, str(result.evidence)])
        assert ADMIN_TOKEN not in dumped
        assert VIEWER_TOKEN not in dumped


# -- alert rules -------------------------------------------------------------------------


async def test_required_alert_rules_are_provisioned(grafana: Grafana) -> None:
    result = await run_one(
        probe("alert_rules", grafana.url, titles=["ERP API error rate high", "ERP p95 latency above 500ms"]),
        conditions=["[RULES] >= 3", "len([MISSING_TITLES]) == 0"],
    )
    assert result.status == Status.PASS, result.message
    assert result.observed["PAUSED"] == 1


async def test_a_paused_alert_rule_fails_the_default_conditions(grafana: Grafana) -> None:
    result = await run_one(probe("alert_rules", grafana.url))
    assert result.status == Status.FAIL
    assert result.observed["PAUSED_RULES"] == ["Backup job failed"]
    assert result.message == (
        "3 provisioned alert rule(s); 1 paused: Backup job failed; [PAUSED] = 1, limit == 0"
    )


async def test_a_missing_alert_rule_is_named(grafana: Grafana) -> None:
    result = await run_one(probe("alert_rules", grafana.url, titles=["ERP database replication lag"]))
    assert result.status == Status.FAIL
    assert result.observed["MISSING_TITLES"] == ["ERP database replication lag"]
    assert "missing: ERP database replication lag" in result.message


async def test_no_alert_rules_at_all_fails(grafana: Grafana) -> None:
    grafana.state.alert_rules.clear()
    result = await run_one(probe("alert_rules", grafana.url))
    assert result.status == Status.FAIL
    assert "[RULES] = 0, limit > 0" in result.message


# -- users -------------------------------------------------------------------------------


async def test_users_by_role_and_required_users(grafana: Grafana) -> None:
    required = [
        {"login": "ops-lead", "role": "Admin"},
        {"email": "DEV-ANNA@valeo.example", "role": "Editor"},  # Grafana ignores case here
        {"login": "viewer-ben"},
    ]
    result = await run_one(
        probe("users", grafana.url, required=required), conditions=["[ROLES].Admin >= 2", "[USERS] == 5"]
    )
    assert result.status == Status.PASS, result.message
    assert result.observed["ROLES"] == {"None": 1, "Viewer": 1, "Editor": 1, "Admin": 2}
    assert result.observed["DISABLED_USERS"] == ["old-ops"]
    assert result.message == "5 active user(s) (2 Admin, 1 Editor, 1 Viewer, 1 None), 1 disabled"


async def test_users_lacking_a_role_fail(grafana: Grafana) -> None:
    required = [
        {"login": "viewer-ben", "role": "Editor"},
        {"login": "old-ops", "role": "Viewer"},
        {"login": "release-manager", "role": "Viewer"},
    ]
    result = await run_one(probe("users", grafana.url, required=required))
    assert result.status == Status.FAIL
    assert result.observed["LACKING_ROLE"] == ["viewer-ben: Viewer, needs Editor", "old-ops: disabled"]
    assert result.observed["MISSING_USERS"] == ["release-manager"]
    assert "not in the org: release-manager" in result.message
    assert "role too low: viewer-ben: Viewer, needs Editor, old-ops: disabled" in result.message
    assert "len([LACKING_ROLE]) = 2, limit == 0" in result.message


# -- config ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GRAFANA_TYPES)
def test_example_loads_with_the_default_conditions(name: str) -> None:
    probe_type = all_probe_types()[name]
    checklist = loads(checklist_yaml(item("example", dict(probe_type.example))), env={})
    loaded = checklist.item("example")
    assert isinstance(loaded.config, probe_type.config_model)
    assert [c.text for c in loaded.parsed_conditions] == list(probe_type.default_conditions)


def test_bad_config_fails_at_load_naming_item_and_field() -> None:
    text = checklist_yaml(
        item("users", probe("users", "https://grafana.example.com", required=[{"login": "a", "email": "b"}])),
        item(
            "token", {"type": "grafana_health", "url": "https://grafana.example.com", "auth": {"bearer": "x"}}
        ),
        item(
            "values", probe("dashboards", "https://grafana.example.com"), conditions=["[RETENTION_DAYS] > 1"]
        ),
        item("page", probe("dashboards", "https://grafana.example.com", page_size=10000)),
        item("url", probe("health", "grafana.example.com")),
    )
    with pytest.raises(ChecklistError) as raised:
        loads(text, env={})
    problems = {(p.where, p.field) for p in raised.value.problems}
    assert ("item users", "probe.required.0") in problems
    assert ("item token", "probe.auth.bearer") in problems
    # A value another probe type observes is caught at load, not at run time.
    assert ("item values", "conditions[0]") in problems
    assert ("item page", "probe.page_size") in problems
    assert ("item url", "probe.url") in problems
