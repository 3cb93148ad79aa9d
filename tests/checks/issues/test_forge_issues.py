"""The issue_tracker probe against fake GitHub and GitLab APIs on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from golive.checks.results import ItemResult
from golive.checks.status import Status
from tests.checks.http.support import item, run
from tests.checks.pipeline.fake_forges import (
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    FakeGitHub,
    FakeGitLab,
    github_issue,
    gitlab_issue,
)
from tests.checks.pipeline.forge_fixtures import GITHUB_TOKEN_ENV, GITLAB_TOKEN_ENV

BLOCKER = "release blocker"


def github_probe(api_url: str, **config: Any) -> dict[str, Any]:
    return {
        "type": "issue_tracker",
        "provider": "github",
        "api_url": api_url,
        "repo": "valeo/neuroerp",
        "labels": [BLOCKER],
        "token": {"env": GITHUB_TOKEN_ENV},
        **config,
    }


def gitlab_probe(api_url: str, **config: Any) -> dict[str, Any]:
    return {
        "type": "issue_tracker",
        "provider": "gitlab",
        "api_url": api_url,
        "project": "valeo/erp",
        "labels": BLOCKER,  # one label may be written without a list
        "token": {"env": GITLAB_TOKEN_ENV},
        **config,
    }


async def run_one(probe: dict[str, Any]) -> ItemResult:
    return (await run(item("blockers", probe)))["blockers"]


@pytest.fixture
def repo_issues(github: FakeGitHub) -> list[dict[str, Any]]:
    repo = github.repos["valeo/neuroerp"]
    repo.labels = {BLOCKER, "critical", "bug"}
    return repo.issues


async def test_no_open_blockers_passes_and_pull_requests_are_not_issues(
    github: FakeGitHub, github_url: str, repo_issues: list[dict[str, Any]]
) -> None:
    repo_issues += [
        github_issue(30, "Hotfix login", [BLOCKER], pull_request=True),
        github_issue(12, "Old blocker", [BLOCKER], state="closed"),
        github_issue(13, "Typo in footer", ["bug"]),
    ]
    result = await run_one(github_probe(github_url))
    assert result.status == Status.PASS, result.message
    assert result.observed == {"OPEN": 0, "ISSUES": []}
    label, issues = github.requests
    assert label.path == "/repos/valeo/neuroerp/labels/release%20blocker"
    assert issues.path == "/repos/valeo/neuroerp/issues"
    assert issues.query == {"state": "open", "labels": BLOCKER, "per_page": "100"}
    for request in github.requests:
        assert request.headers["authorization"] == f"Bearer {GITHUB_TOKEN}"
        assert request.headers["x-github-api-version"] == "2022-11-28"


async def test_open_blockers_fail_listing_them_across_pages(
    github: FakeGitHub, github_url: str, repo_issues: list[dict[str, Any]]
) -> None:
    github.page_size = 2
    titles = ["Login fails with SSO", "Invoice PDF empty", "Export hangs", "Wrong VAT", "Audit log gap"]
    for number, title in enumerate(titles, start=101):
        repo_issues.append(github_issue(number, title, [BLOCKER]))
        repo_issues.append(github_issue(number + 100, f"Fix {title}", [BLOCKER], pull_request=True))

    result = await run_one(github_probe(github_url, show=3))

    assert result.status == Status.FAIL
    assert result.observed["OPEN"] == 5
    assert result.observed["ISSUES"] == [
        {
            "key": "#101",
            "title": "Login fails with SSO",
            "url": "https://github.com/valeo/neuroerp/issues/101",
        },
        {"key": "#102", "title": "Invoice PDF empty", "url": "https://github.com/valeo/neuroerp/issues/102"},
        {"key": "#103", "title": "Export hangs", "url": "https://github.com/valeo/neuroerp/issues/103"},
    ]
    assert result.message.startswith(
        "5 open issues labelled 'release blocker' in repository valeo/neuroerp: "
        "#101 Login fails with SSO, #102 Invoice PDF empty, #103 Export hangs, and 2 more"
    )
    assert "[OPEN] = 5, limit == 0" in result.message
    # Ten items, two a page: the Link headers lead through /repositories/{id}/issues.
    pages = [r for r in github.requests if r.path.endswith("/issues")]
    assert [r.path for r in pages] == ["/repos/valeo/neuroerp/issues"] + ["/repositories/4711/issues"] * 4
    assert [r.query.get("page") for r in pages] == [None, "2", "3", "4", "5"]


async def test_any_of_several_labels_counts_each_issue_once(
    github: FakeGitHub, github_url: str, repo_issues: list[dict[str, Any]]
) -> None:
    repo_issues += [
        github_issue(1, "Both labels", [BLOCKER, "critical"]),
        github_issue(2, "Only critical", ["critical"]),
        github_issue(3, "Only a bug", ["bug"]),
    ]
    result = await run_one(github_probe(github_url, labels=[BLOCKER, "critical"]))
    assert result.status == Status.FAIL
    assert result.observed["OPEN"] == 2
    assert [i["key"] for i in result.observed["ISSUES"]] == ["#1", "#2"]
    assert "labelled 'release blocker' or 'critical'" in result.message


async def test_a_misspelt_label_is_an_error_not_zero_blockers(
    github: FakeGitHub, github_url: str, repo_issues: list[dict[str, Any]]
) -> None:
    result = await run_one(github_probe(github_url, labels=["release-blocker"]))
    assert result.status == Status.ERROR
    assert result.message == (
        "GitHub: label 'release-blocker' not found in repository valeo/neuroerp "
        "(a misspelt label would match no issues and pass)"
    )


async def test_disabled_issues_are_an_error(
    github: FakeGitHub, github_url: str, repo_issues: list[dict[str, Any]]
) -> None:
    github.repos["valeo/neuroerp"].has_issues = False
    result = await run_one(github_probe(github_url))
    assert result.status == Status.ERROR
    assert result.message == "GitHub: issues are disabled for repository valeo/neuroerp"


async def test_github_wrong_token_and_rate_limit_are_told_apart(
    github: FakeGitHub, github_url: str, repo_issues: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(GITHUB_TOKEN_ENV, "ghp_expiredToken4242")
    refused = await run_one(github_probe(github_url))
    assert refused.status == Status.ERROR
    assert "not authorised (HTTP 401: Bad credentials)" in refused.message
    assert "TEMPORARY" not in refused.observed
    assert "ghp_expiredToken4242" not in json.dumps([dict(refused.observed), refused.message])

    github.rate_limited = True
    limited = await run_one(github_probe(github_url))
    assert limited.status == Status.ERROR
    assert limited.observed == {"TEMPORARY": True}
    assert "rate limit exhausted" in limited.message


async def test_gitlab_without_blockers_passes(gitlab: FakeGitLab, gitlab_url: str) -> None:
    project = gitlab.projects[0]
    project.labels = {BLOCKER}
    project.issues = [
        gitlab_issue(5, "Closed blocker", [BLOCKER], state="closed"),
        gitlab_issue(6, "Just a bug", ["bug"]),
    ]
    result = await run_one(gitlab_probe(gitlab_url))
    assert result.status == Status.PASS, result.message
    assert result.observed == {"OPEN": 0, "ISSUES": []}
    label, issues = gitlab.requests
    assert label.path == "/api/v4/projects/valeo%2Ferp/labels/release%20blocker"
    assert issues.path == "/api/v4/projects/valeo%2Ferp/issues"
    assert issues.query == {"state": "opened", "labels": BLOCKER, "scope": "all", "per_page": "100"}
    assert all(r.headers["private-token"] == GITLAB_TOKEN for r in gitlab.requests)


async def test_gitlab_counts_blockers_from_x_total(gitlab: FakeGitLab, gitlab_url: str) -> None:
    gitlab.page_size = 2
    project = gitlab.projects[0]
    project.labels = {BLOCKER}
    project.issues = [gitlab_issue(n, f"Blocker {n}", [BLOCKER]) for n in (7, 8, 9)]
    result = await run_one(gitlab_probe(gitlab_url))
    assert result.status == Status.FAIL
    assert result.observed["OPEN"] == 3
    assert result.observed["ISSUES"][0] == {
        "key": "#7",
        "title": "Blocker 7",
        "url": "https://gitlab.example.com/valeo/erp/-/issues/7",
    }
    assert result.message.startswith(
        "3 open issues labelled 'release blocker' in project valeo/erp: "
        "#7 Blocker 7, #8 Blocker 8, and 1 more"
    )
    assert len([r for r in gitlab.requests if r.path.endswith("/issues")]) == 1  # X-Total sufficed


async def test_gitlab_pages_when_it_does_not_count(gitlab: FakeGitLab, gitlab_url: str) -> None:
    gitlab.page_size = 2
    gitlab.omit_totals = True  # as beyond 10,000 rows
    project = gitlab.projects[0]
    project.labels = {BLOCKER}
    project.issues = [gitlab_issue(n, f"Blocker {n}", [BLOCKER]) for n in (7, 8, 9)]
    result = await run_one(gitlab_probe(gitlab_url))
    assert result.observed["OPEN"] == 3
    assert len([r for r in gitlab.requests if r.path.endswith("/issues")]) == 2


async def test_gitlab_missing_label_and_project_are_errors(gitlab: FakeGitLab, gitlab_url: str) -> None:
    missing_label = await run_one(gitlab_probe(gitlab_url))
    assert missing_label.status == Status.ERROR
    assert missing_label.message.startswith("GitLab: label 'release blocker' not found in project valeo/erp")

    missing_project = await run_one(gitlab_probe(gitlab_url, project="valeo/gone"))
    assert missing_project.status == Status.ERROR
    assert "GitLab: project valeo/gone not found (HTTP 404)" in missing_project.message


async def test_reading_stops_after_ten_pages_and_says_at_least(
    github: FakeGitHub, github_url: str, repo_issues: list[dict[str, Any]]
) -> None:
    github.page_size = 1
    repo_issues += [github_issue(n, f"Blocker {n}", [BLOCKER]) for n in range(1, 12)]
    result = await run_one(github_probe(github_url))
    assert result.status == Status.FAIL
    assert result.observed["OPEN"] == 10
    assert result.message.startswith("at least 10 open issues labelled 'release blocker'")
    assert "(stopped reading after 10 pages)" in result.message


async def test_a_next_link_to_another_host_is_not_followed_with_the_token(
    github: FakeGitHub, github_url: str, repo_issues: list[dict[str, Any]]
) -> None:
    github.page_size = 1
    github.link_base = "http://127.0.0.2:9"
    repo_issues += [github_issue(n, f"Blocker {n}", [BLOCKER]) for n in (1, 2)]
    result = await run_one(github_probe(github_url))
    assert result.status == Status.ERROR
    assert result.message.startswith(
        "GitHub: refusing to follow a link to another host: http://127.0.0.2:9/repositories/4711/issues?"
    )
    assert len(github.requests) == 2  # the label and the first page, nothing else
