"""The pipeline probe against a fake GitLab REST API on 127.0.0.1, through loader and runner."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from golive.checks.results import ItemResult
from golive.checks.status import Status
from tests.checks.http.support import item, run

from .fake_forges import GITLAB_TOKEN, FakeGitLab, gitlab_pipeline
from .forge_fixtures import GITLAB_TOKEN_ENV, MAIN_SHA, RELEASE_SHA


def recently(minutes: float = 10) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def gitlab_probe(api_url: str, **config: Any) -> dict[str, Any]:
    return {
        "type": "pipeline",
        "provider": "gitlab",
        "api_url": api_url,
        "project": "valeo/erp",
        "token": {"env": GITLAB_TOKEN_ENV},
        **config,
    }


async def run_one(probe: dict[str, Any]) -> ItemResult:
    return (await run(item("pipeline", probe)))["pipeline"]


def pipeline(pipeline_id: int, iid: int, status: str = "success", **fields: Any) -> dict[str, Any]:
    fields.setdefault("updated_at", recently())
    return gitlab_pipeline(pipeline_id, iid=iid, sha=RELEASE_SHA, status=status, **fields)


async def test_newest_pipeline_for_the_tag_passes(gitlab: FakeGitLab, gitlab_url: str) -> None:
    gitlab.projects[0].pipelines = [
        pipeline(1201, 17, "failed"),
        pipeline(1250, 18),
        gitlab_pipeline(1300, iid=19, sha=MAIN_SHA, ref="main", status="failed"),
    ]
    result = await run_one(gitlab_probe(gitlab_url, tag="v1.1.0"))
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["STATUS"] == "completed"
    assert observed["CONCLUSION"] == "success"
    assert observed["PROVIDER_STATUS"] == "success"
    assert observed["RUN_NUMBER"] == 18
    assert observed["RUN_URL"] == "https://gitlab.example.com/valeo/erp/-/pipelines/1250"
    assert observed["HEAD_SHA"] == RELEASE_SHA
    assert observed["REF"] == "v1.1.0"
    assert observed["EVENT"] == "push"
    assert observed["RUNS"] == 2  # X-Total
    json.dumps(dict(observed))

    (request,) = gitlab.requests
    assert request.path == "/api/v4/projects/valeo%2Ferp/pipelines"  # the path, URL-encoded
    assert request.query == {"ref": "v1.1.0", "order_by": "id", "sort": "desc", "per_page": "20"}
    assert request.headers["private-token"] == GITLAB_TOKEN
    assert "authorization" not in request.headers


async def test_failed_pipeline_fails(gitlab: FakeGitLab, gitlab_url: str) -> None:
    gitlab.projects[0].pipelines = [pipeline(1200, 16), pipeline(1201, 17, "failed")]
    result = await run_one(gitlab_probe(gitlab_url, ref="v1.1.0"))
    assert result.status == Status.FAIL
    assert "pipeline #17 for ref v1.1.0 in project valeo/erp: completed, failed" in result.message
    assert "[CONCLUSION] = failed, limit == success" in result.message


async def test_running_pipeline_fails_with_its_gitlab_status(gitlab: FakeGitLab, gitlab_url: str) -> None:
    gitlab.projects[0].pipelines = [pipeline(1200, 16), pipeline(1202, 18, "running")]
    result = await run_one(gitlab_probe(gitlab_url, tag="v1.1.0"))
    assert result.status == Status.FAIL
    assert result.observed["STATUS"] == "in_progress"
    assert result.observed["CONCLUSION"] is None
    assert "in_progress, no conclusion yet (GitLab: running)" in result.message
    assert "[CONCLUSION] = null, limit == success" in result.message


@pytest.mark.parametrize(
    ("gitlab_status", "status", "conclusion"),
    [
        ("created", "queued", None),
        ("waiting_for_resource", "queued", None),
        ("preparing", "queued", None),
        ("pending", "queued", None),
        ("running", "in_progress", None),
        ("canceling", "in_progress", None),
        ("manual", "waiting", None),
        ("scheduled", "waiting", None),
        ("success", "completed", "success"),
        ("failed", "completed", "failed"),
        ("canceled", "completed", "canceled"),
        ("skipped", "completed", "skipped"),
    ],
)
async def test_every_gitlab_status_maps_onto_status_and_conclusion(
    gitlab: FakeGitLab, gitlab_url: str, gitlab_status: str, status: str, conclusion: str | None
) -> None:
    gitlab.projects[0].pipelines = [pipeline(1400, 30, gitlab_status)]
    result = await run_one(gitlab_probe(gitlab_url, tag="v1.1.0"))
    assert result.observed["STATUS"] == status
    assert result.observed["CONCLUSION"] == conclusion
    assert result.observed["PROVIDER_STATUS"] == gitlab_status
    assert result.status == (Status.PASS if gitlab_status == "success" else Status.FAIL)


async def test_missing_tag_is_an_error_naming_it(gitlab: FakeGitLab, gitlab_url: str) -> None:
    result = await run_one(gitlab_probe(gitlab_url, tag="release/9.9"))
    assert result.status == Status.ERROR
    assert result.message == "GitLab: tag release/9.9 not found in project valeo/erp"
    assert gitlab.requests[-1].path == "/api/v4/projects/valeo%2Ferp/repository/tags/release%2F9.9"


async def test_existing_branch_without_pipelines_fails(gitlab: FakeGitLab, gitlab_url: str) -> None:
    result = await run_one(gitlab_probe(gitlab_url, branch="main"))
    assert result.status == Status.FAIL
    assert "no pipelines for branch main in project valeo/erp" in result.message
    assert result.observed["RUNS"] == 0


async def test_missing_project_is_an_error(gitlab: FakeGitLab, gitlab_url: str) -> None:
    result = await run_one(gitlab_probe(gitlab_url, project="valeo/nope", tag="v1.1.0"))
    assert result.status == Status.ERROR
    assert "GitLab: project valeo/nope not found (HTTP 404)" in result.message


async def test_wrong_token_is_not_authorised_and_never_shown(
    gitlab: FakeGitLab, gitlab_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "glpat-wrongToken-000111"
    monkeypatch.setenv(GITLAB_TOKEN_ENV, wrong)
    result = await run_one(gitlab_probe(gitlab_url, tag="v1.1.0"))
    assert result.status == Status.ERROR
    assert result.message == (
        "GitLab: not authorised (HTTP 401: 401 Unauthorized): "
        f"the token from env {GITLAB_TOKEN_ENV} was refused"
    )
    assert "TEMPORARY" not in result.observed
    assert wrong not in json.dumps([dict(result.observed), result.message, str(result.evidence)])


async def test_numeric_project_id_and_no_total_beyond_ten_thousand(
    gitlab: FakeGitLab, gitlab_url: str
) -> None:
    gitlab.omit_totals = True
    gitlab.page_size = 1
    gitlab.projects[0].pipelines = [pipeline(1500, 40), pipeline(1501, 41)]
    result = await run_one(gitlab_probe(gitlab_url, project="42", sha=RELEASE_SHA))
    assert result.status == Status.PASS, result.message
    assert gitlab.requests[0].path == "/api/v4/projects/42/pipelines"
    assert gitlab.requests[0].query["sha"] == RELEASE_SHA
    assert result.observed["RUN_NUMBER"] == 41
    assert result.observed["RUNS"] is None  # GitLab did not count, and there are more pages
