"""The pipeline probe against a fake GitHub REST API on 127.0.0.1, through loader and runner."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from golive.checks.results import ItemResult
from golive.checks.status import Status
from tests.checks.http.servers import free_port
from tests.checks.http.support import item, run

from .fake_forges import GITHUB_TOKEN, FakeGitHub, workflow_run
from .forge_fixtures import GITHUB_TOKEN_ENV, MAIN_SHA, RELEASE_SHA


def ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def github_probe(api_url: str, **config: Any) -> dict[str, Any]:
    return {
        "type": "pipeline",
        "provider": "github",
        "api_url": api_url,
        "repo": "valeo/neuroerp",
        "token": {"env": GITHUB_TOKEN_ENV},
        **config,
    }


async def run_one(probe: dict[str, Any], env: dict[str, str] | None = None) -> ItemResult:
    return (await run(item("pipeline", probe), env=env))["pipeline"]


def tag_run(run_id: int, number: int, minutes_ago: float, **fields: Any) -> dict[str, Any]:
    """A run of the release workflow for the tag push of v1.1.0."""
    fields.setdefault("head_branch", "v1.1.0")
    return workflow_run(run_id, number=number, head_sha=RELEASE_SHA, created_at=ago(minutes_ago), **fields)


async def test_newest_run_for_the_tag_decides_whatever_order_the_api_lists(
    github: FakeGitHub, github_url: str
) -> None:
    runs = [
        tag_run(301, 40, 90, conclusion="failure"),
        tag_run(302, 41, 60, conclusion="failure"),
        tag_run(303, 42, 30, updated_at=ago(20)),
        # Newer, but for another commit: the head_sha filter leaves it out.
        workflow_run(304, number=43, head_sha=MAIN_SHA, created_at=ago(5), conclusion="failure"),
    ]
    random.Random(7).shuffle(runs)
    github.repos["valeo/neuroerp"].runs = runs

    result = await run_one(github_probe(github_url, tag="v1.1.0"))

    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["STATUS"] == "completed"
    assert observed["CONCLUSION"] == "success"
    assert observed["RUN_NUMBER"] == 42
    assert observed["RUN_URL"] == "https://github.com/valeo/neuroerp/actions/runs/303"
    assert observed["WORKFLOW"] == "Build"
    assert observed["HEAD_SHA"] == RELEASE_SHA
    assert observed["REF"] == "v1.1.0"
    assert observed["EVENT"] == "push"
    assert observed["RUNS"] == 3
    assert result.evidence is not None
    assert result.evidence.link == observed["RUN_URL"]
    # The evidence is as old as the run's last update, not the moment we asked.
    age = datetime.now(UTC) - result.evidence.observed_at
    assert timedelta(minutes=19) < age < timedelta(minutes=22)
    json.dumps(dict(observed))

    commit, runs_request = github.requests
    assert commit.path == "/repos/valeo/neuroerp/commits/v1.1.0"
    assert runs_request.path == "/repos/valeo/neuroerp/actions/runs"
    assert runs_request.query == {"head_sha": RELEASE_SHA, "per_page": "100"}
    for request in github.requests:
        assert request.headers["authorization"] == f"Bearer {GITHUB_TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"


async def test_failed_pipeline_fails_showing_the_conclusion(github: FakeGitHub, github_url: str) -> None:
    github.repos["valeo/neuroerp"].runs = [
        tag_run(311, 6, 60),
        tag_run(312, 7, 10, conclusion="failure"),
    ]
    result = await run_one(github_probe(github_url, tag="v1.1.0"))
    assert result.status == Status.FAIL
    assert "run #7 of Build for tag v1.1.0 (3f7c2a9be0d1): completed, failure" in result.message
    assert "[CONCLUSION] = failure, limit == success" in result.message
    assert result.observed["RUN_URL"] == "https://github.com/valeo/neuroerp/actions/runs/312"
    assert "TEMPORARY" not in result.observed


async def test_running_pipeline_fails_with_no_conclusion_yet(github: FakeGitHub, github_url: str) -> None:
    github.repos["valeo/neuroerp"].runs = [
        tag_run(321, 8, 60),
        tag_run(322, 9, 2, status="in_progress", conclusion=None),
    ]
    result = await run_one(github_probe(github_url, tag="v1.1.0"))
    assert result.status == Status.FAIL  # an observation, not an ERROR
    assert result.observed["STATUS"] == "in_progress"
    assert result.observed["CONCLUSION"] is None
    assert "in_progress, no conclusion yet" in result.message
    assert "[CONCLUSION] = null, limit == success" in result.message


async def test_missing_tag_is_an_error_naming_it(github: FakeGitHub, github_url: str) -> None:
    result = await run_one(github_probe(github_url, tag="v9.9.9"))
    assert result.status == Status.ERROR
    assert result.message == "GitHub: tag v9.9.9 not found in repository valeo/neuroerp"
    assert "TEMPORARY" not in result.observed


async def test_missing_repository_is_told_apart_from_a_missing_tag(
    github: FakeGitHub, github_url: str
) -> None:
    result = await run_one(github_probe(github_url, repo="valeo/nope", tag="v1.1.0"))
    assert result.status == Status.ERROR
    assert "GitHub: repository valeo/nope not found (HTTP 404)" in result.message
    assert f"the token from env {GITHUB_TOKEN_ENV} can see it" in result.message


async def test_wrong_token_is_not_authorised_and_never_shown(
    github: FakeGitHub, github_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "ghp_wrongTokenZYXWVUT98765"
    monkeypatch.setenv(GITHUB_TOKEN_ENV, wrong)
    result = await run_one(github_probe(github_url, tag="v1.1.0"))
    assert result.status == Status.ERROR
    assert result.message == (
        "GitHub: not authorised (HTTP 401: Bad credentials): "
        f"the token from env {GITHUB_TOKEN_ENV} was refused"
    )
    assert "TEMPORARY" not in result.observed  # a retry will not help
    everything = json.dumps([dict(result.observed), result.message, result.raw_message, str(result.evidence)])
    assert wrong not in everything
    assert github.requests[0].headers["authorization"] == f"Bearer {wrong}"  # it was sent, only there


async def test_rate_limit_is_temporary_and_says_so(github: FakeGitHub, github_url: str) -> None:
    github.rate_limited = True
    result = await run_one(github_probe(github_url, branch="main"))
    assert result.status == Status.ERROR
    assert result.observed == {"TEMPORARY": True}
    assert "GitHub: rate limit exhausted (HTTP 403: API rate limit exceeded" in result.message
    assert "resets at 2025-06-15 15:06:40 UTC" in result.message
    assert "not authorised" not in result.message


async def test_workflow_by_file_name_or_id_on_a_branch(github: FakeGitHub, github_url: str) -> None:
    github.repos["valeo/neuroerp"].runs = [
        workflow_run(
            331,
            number=5,
            head_sha=MAIN_SHA,
            workflow="release.yml",
            name="Release",
            created_at=ago(30),
            conclusion="success",
        ),
        workflow_run(
            332,
            number=90,
            head_sha=MAIN_SHA,
            workflow="lint.yml",
            name="Lint",
            created_at=ago(5),
            conclusion="failure",
        ),
    ]
    by_name = await run_one(github_probe(github_url, branch="main", workflow="release.yml"))
    assert by_name.status == Status.PASS, by_name.message
    assert by_name.observed["WORKFLOW"] == "Release"
    assert github.requests[-1].path == "/repos/valeo/neuroerp/actions/workflows/release.yml/runs"
    assert github.requests[-1].query == {"branch": "main", "per_page": "100"}

    workflow_id = github.repos["valeo/neuroerp"].runs[0]["workflow_id"]
    text = f"""
release: {{name: VALEO-NeuroERP, version: 1.1.0}}
phases:
  - id: p4
    title: Pipeline
    sections:
      - id: ci
        title: CI
        items:
          - id: pipeline
            title: Build-Pipeline getestet
            probe:
              type: pipeline
              provider: github
              api_url: {github_url}
              repo: valeo/neuroerp
              workflow: {workflow_id}
              branch: main
              token: {{env: {GITHUB_TOKEN_ENV}}}
"""
    from golive.checks.loader import loads
    from golive.checks.runner import run_checklist

    outcome = await run_checklist(loads(text, env={}))
    assert outcome.results["pipeline"].observed["RUN_NUMBER"] == 5

    without = await run_one(github_probe(github_url, branch="main"))
    assert without.status == Status.FAIL  # any workflow: the newest is the failed lint run
    assert without.observed["WORKFLOW"] == "Lint"


async def test_unknown_workflow_is_an_error_naming_it(github: FakeGitHub, github_url: str) -> None:
    github.repos["valeo/neuroerp"].runs = [workflow_run(341, number=1, head_sha=MAIN_SHA)]
    result = await run_one(github_probe(github_url, branch="main", workflow="deploy.yml"))
    assert result.status == Status.ERROR
    assert result.message == "GitHub: workflow deploy.yml not found in repository valeo/neuroerp"


async def test_no_run_for_an_existing_ref_fails(github: FakeGitHub, github_url: str) -> None:
    result = await run_one(github_probe(github_url, tag="v1.1.0"))
    assert result.status == Status.FAIL
    assert "no runs of any workflow for tag v1.1.0 (3f7c2a9be0d1) in valeo/neuroerp" in result.message
    assert result.observed["RUNS"] == 0
    assert result.observed["CONCLUSION"] is None


async def test_no_run_for_a_branch_that_does_not_exist_is_an_error(
    github: FakeGitHub, github_url: str
) -> None:
    result = await run_one(github_probe(github_url, branch="relase/1.1"))
    assert result.status == Status.ERROR
    assert result.message == "GitHub: branch relase/1.1 not found in repository valeo/neuroerp"
    assert github.requests[-1].path == "/repos/valeo/neuroerp/branches/relase/1.1"


async def test_explicit_sha_filters_by_head_sha(github: FakeGitHub, github_url: str) -> None:
    github.repos["valeo/neuroerp"].runs = [tag_run(351, 3, 15)]
    result = await run_one(github_probe(github_url, sha=RELEASE_SHA.upper()))
    assert result.status == Status.PASS, result.message
    (request,) = github.requests  # no tag to resolve
    assert request.query["head_sha"] == RELEASE_SHA


async def test_the_ref_comes_from_the_environment(github: FakeGitHub, github_url: str) -> None:
    github.repos["valeo/neuroerp"].runs = [tag_run(361, 4, 15)]
    probe = github_probe(github_url, tag="${GOLIVE_RELEASE_TAG}")
    configured = await run_one(probe, env={"GOLIVE_RELEASE_TAG": "v1.1.0"})
    assert configured.status == Status.PASS, configured.message
    unset = await run_one(probe, env={})
    assert unset.status == Status.ERROR
    assert unset.message == "not configured: set GOLIVE_RELEASE_TAG"


async def test_unreachable_api_is_a_temporary_error(github: FakeGitHub) -> None:
    result = await run_one(github_probe(f"http://127.0.0.1:{free_port()}", tag="v1.1.0"))
    assert result.status == Status.ERROR
    assert result.observed == {"TEMPORARY": True}
    assert "GitHub: cannot connect to 127.0.0.1:" in result.message
    assert "connection refused" in result.message


async def test_a_missing_ca_bundle_is_a_permanent_error(github: FakeGitHub, github_url: str) -> None:
    result = await run_one(github_probe(github_url, tag="v1.1.0", ca_file="/nonexistent/ghes-ca.pem"))
    assert result.status == Status.ERROR
    assert result.message == "CA bundle not found: /nonexistent/ghes-ca.pem"
    assert "TEMPORARY" not in result.observed
    assert github.requests == []
