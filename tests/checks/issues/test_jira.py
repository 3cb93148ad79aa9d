"""The issue_tracker probe against a fake Jira (Server and Cloud search) on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from golive.checks.results import ItemResult
from golive.checks.status import Status
from tests.checks.http.support import item, run

from .conftest import JIRA_PAT_ENV, JIRA_TOKEN_ENV
from .fake_jira import JIRA_API_TOKEN, JIRA_EMAIL, JIRA_PAT, FakeJira, JiraIssue

BUILT_JQL = 'project = "ERP" AND labels in ("release-blocker", "go-live") AND statusCategory != Done'
ISSUES = [
    JiraIssue("ERP-7", "Payment export drops rows", ("release-blocker",)),
    JiraIssue("ERP-9", "SSO loop on logout", ("go-live", "security")),
    JiraIssue("ERP-11", "Already fixed", ("release-blocker",), done=True),
    JiraIssue("ERP-12", "Cosmetic", ("ui",)),
    JiraIssue("HR-3", "Other project", ("release-blocker",)),
]


def jira_probe(api_url: str, **config: Any) -> dict[str, Any]:
    return {
        "type": "issue_tracker",
        "provider": "jira",
        "api_url": api_url,
        "project": "ERP",
        "labels": ["release-blocker", "go-live"],
        "token": {"env": JIRA_PAT_ENV},
        "api": "server",
        **config,
    }


async def run_one(probe: dict[str, Any]) -> ItemResult:
    return (await run(item("blockers", probe)))["blockers"]


async def test_server_without_blockers_passes_with_a_bearer_token(jira: FakeJira, jira_url: str) -> None:
    jira.issues = [i for i in ISSUES if i.key in ("ERP-11", "ERP-12", "HR-3")]
    result = await run_one(jira_probe(jira_url))
    assert result.status == Status.PASS, result.message
    assert result.observed == {"OPEN": 0, "ISSUES": []}
    (request,) = jira.requests
    assert request.path == "/rest/api/2/search"
    assert request.query == {"jql": BUILT_JQL, "maxResults": "5", "fields": "summary"}
    assert request.headers["authorization"] == f"Bearer {JIRA_PAT}"


async def test_server_blockers_fail_listing_them_with_basic_auth(jira: FakeJira, jira_url: str) -> None:
    jira.issues = ISSUES
    result = await run_one(jira_probe(jira_url, email=JIRA_EMAIL, token={"env": JIRA_TOKEN_ENV}))
    assert result.status == Status.FAIL
    assert result.observed["OPEN"] == 2
    assert result.observed["ISSUES"] == [
        {"key": "ERP-7", "title": "Payment export drops rows", "url": f"{jira_url}/browse/ERP-7"},
        {"key": "ERP-9", "title": "SSO loop on logout", "url": f"{jira_url}/browse/ERP-9"},
    ]
    assert result.message.startswith(
        f"2 open issues in Jira ({BUILT_JQL}): ERP-7 Payment export drops rows, ERP-9 SSO loop on logout"
    )
    assert "[OPEN] = 2, limit == 0" in result.message
    assert result.evidence is not None
    assert result.evidence.link is not None and result.evidence.link.startswith(
        f"{jira_url}/issues/?jql=project"
    )
    basic = base64.b64encode(f"{JIRA_EMAIL}:{JIRA_API_TOKEN}".encode()).decode()
    assert jira.requests[0].headers["authorization"] == f"Basic {basic}"


async def test_cloud_pages_through_the_enhanced_search(jira: FakeJira, jira_url: str) -> None:
    jira.cloud = True
    jira.page_size = 2
    jira.issues = [JiraIssue(f"ERP-{n}", f"Blocker {n}", ("release-blocker",)) for n in range(20, 25)]
    result = await run_one(jira_probe(jira_url, api="cloud"))
    assert result.status == Status.FAIL
    assert result.observed["OPEN"] == 5
    assert [r.path for r in jira.requests] == ["/rest/api/3/search/jql"] * 3
    assert "nextPageToken" not in jira.requests[0].query
    assert jira.requests[1].query["nextPageToken"]
    assert "and 0 more" not in result.message


async def test_removed_search_on_jira_cloud_says_what_to_change(jira: FakeJira, jira_url: str) -> None:
    jira.cloud = True
    jira.issues = ISSUES
    result = await run_one(jira_probe(jira_url))
    assert result.status == Status.ERROR
    assert result.message.startswith(
        "Jira: /rest/api/2/search is gone (HTTP 410: The requested API has been removed."
    )
    assert result.message.endswith("this is Jira Cloud, set api: cloud")


async def test_rejected_jql_is_an_error_with_jiras_words(jira: FakeJira, jira_url: str) -> None:
    jira.issues = ISSUES
    result = await run_one(jira_probe(jira_url, project="NOPE"))
    assert result.status == Status.ERROR
    assert result.message == (
        'Jira rejected the query \'project = "NOPE" AND labels in ("release-blocker", "go-live") AND '
        "statusCategory != Done': The value 'NOPE' does not exist for the field 'project'."
    )


async def test_own_jql_is_sent_as_written(jira: FakeJira, jira_url: str) -> None:
    jql = "filter = 12345 AND priority = Blocker"
    jira.issues = ISSUES
    jira.saved[jql] = ["ERP-9"]
    probe = jira_probe(jira_url, jql=jql)
    del probe["project"], probe["labels"]
    result = await run_one(probe)
    assert result.observed["OPEN"] == 1
    assert jira.requests[0].query["jql"] == jql


async def test_wrong_credentials_are_not_authorised_and_never_shown(
    jira: FakeJira, jira_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(JIRA_TOKEN_ENV, "ATATTwrongToken999")
    result = await run_one(jira_probe(jira_url, email=JIRA_EMAIL, token={"env": JIRA_TOKEN_ENV}))
    assert result.status == Status.ERROR
    assert result.message == (
        "Jira: not authorised (HTTP 401: Client must be authenticated to access this resource.): "
        f"the token from env {JIRA_TOKEN_ENV} was refused"
    )
    wrong_basic = base64.b64encode(f"{JIRA_EMAIL}:ATATTwrongToken999".encode()).decode()
    shown = json.dumps([dict(result.observed), result.message, str(result.evidence)])
    assert "ATATTwrongToken999" not in shown
    assert wrong_basic not in shown


async def test_wrong_base_url_is_an_error_saying_so(jira: FakeJira, jira_url: str) -> None:
    result = await run_one(jira_probe(f"{jira_url}/wiki"))
    assert result.status == Status.ERROR
    assert "is api_url the Jira base URL?" in result.message
