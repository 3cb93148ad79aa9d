"""``pipeline``: the newest CI run for the release ref, on GitHub Actions or GitLab CI.

The ref is always explicit (``branch``, ``tag`` or ``sha``; GitLab also ``ref``): a tag
named ``v{release}`` is a convention, not a fact, so the checklist says which ref it
means, usually through ``${VARIABLE}`` interpolation (``tag: ${RELEASE_TAG}``).

- GitHub: a tag is resolved to its commit (``GET /repos/{o}/{r}/commits/{tag}``) and the
  runs are filtered by ``head_sha``; a branch filters by ``branch``. ``workflow`` (id or
  file name) narrows the query to one workflow; without it the newest run of any workflow
  counts. The newest run is chosen by ``created_at``, then ``run_number``, then ``id``,
  over the first 100 runs, whatever order the API lists them in.
- GitLab: ``GET /projects/:id/pipelines?ref=…`` (or ``sha=…``), ordered by id, newest
  chosen the same way. GitLab's statuses map onto GitHub's two fields:

  =================================================  ============  ================
  GitLab status                                      STATUS        CONCLUSION
  =================================================  ============  ================
  created, waiting_for_resource, preparing, pending  queued        null
  running, canceling                                 in_progress   null
  manual, scheduled (waiting for a person or timer)  waiting       null
  success, failed, canceled, skipped                 completed     the status itself
  =================================================  ============  ================

  ``PROVIDER_STATUS`` keeps GitLab's own word (and GitHub's ``status``).

A pipeline still running is an observation, not an error: the default condition
``[CONCLUSION] == success`` fails and shows ``null`` next to the status in the message.
No run at all is a FAIL too, unless the branch or tag itself does not exist: that is an
ERROR naming it (a typo must not look like a pipeline that has not run yet).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator

from ..clients.forges import (
    ApiClient,
    ApiResponse,
    ApiStatusError,
    ForgeConfig,
    check_target,
    explain_not_found,
    forge_client,
    parse_time,
)
from ..errors import PermanentProbeError
from ..probe import Evidence, Observation, ProbeContext, ProbeType, Value, register

_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_RUNS_PER_PAGE = 100
_GITLAB_LIFECYCLE = {
    "created": "queued",
    "waiting_for_resource": "queued",
    "preparing": "queued",
    "pending": "queued",
    "running": "in_progress",
    "canceling": "in_progress",
    "manual": "waiting",
    "scheduled": "waiting",
    "success": "completed",
    "failed": "completed",
    "canceled": "completed",
    "skipped": "completed",
}
_OLDEST = datetime.min.replace(tzinfo=UTC)


class PipelineConfig(ForgeConfig):
    type: Literal["pipeline"] = "pipeline"
    provider: Literal["github", "gitlab"]
    #: GitHub: workflow id or file name (``build.yml``).
    workflow: str | None = Field(default=None, min_length=1)
    #: GitHub: only runs triggered by this event (``push``, ``release``, …).
    event: str | None = Field(default=None, min_length=1)
    branch: str | None = Field(default=None, min_length=1)
    tag: str | None = Field(default=None, min_length=1)
    sha: str | None = None
    #: GitLab: a branch or tag name, as GitLab's ``ref`` parameter takes either.
    ref: str | None = Field(default=None, min_length=1)

    @field_validator("workflow", mode="before")
    @classmethod
    def _workflow_id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("sha")
    @classmethod
    def _full_sha(cls, value: str | None) -> str | None:
        if value is not None and not _FULL_SHA.match(value.lower()):
            raise ValueError("write the full commit SHA (40 hex digits); the APIs do not match prefixes")
        return value.lower() if value else value

    @model_validator(mode="after")
    def _consistent(self) -> PipelineConfig:
        check_target(self.provider, self)
        given = [name for name in ("branch", "tag", "sha", "ref") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "name exactly one ref: branch:, tag: or sha: (gitlab also ref:); it is never "
                "guessed from the release version, but ${VARIABLES} work, e.g. tag: ${RELEASE_TAG}"
            )
        if self.provider == "github" and self.ref is not None:
            raise ValueError("github takes branch:, tag: (resolved to its commit) or sha:, not ref:")
        if self.provider == "gitlab" and (self.workflow or self.event):
            raise ValueError("workflow and event are for github; a gitlab project has one pipeline")
        return self

    def ref_text(self) -> str:
        for name in ("branch", "tag", "ref"):
            if getattr(self, name) is not None:
                return f"{name} {getattr(self, name)}"
        return f"commit {(self.sha or '')[:12]}"


async def _gather(config: PipelineConfig, context: ProbeContext) -> Observation:
    async with forge_client(config.provider, config, context) as client:
        if config.provider == "github":
            return await _github(client, config, context)
        return await _gitlab(client, config, context)


async def _github(client: ApiClient, config: PipelineConfig, context: ProbeContext) -> Observation:
    repo = f"repos/{config.repo}"
    container = f"repository {config.repo}"
    head_sha = config.sha
    if config.tag is not None:
        try:
            commit = await client.get(f"{repo}/commits/{quote(config.tag, safe='/')}")
        except ApiStatusError as exc:  # GitHub: 422 "No commit found for SHA: <tag>"
            raise await explain_not_found(client, exc, container, repo, f"tag {config.tag}") from None
        head_sha = _field(commit.body, "sha", str, "the commit of the tag")
    params: dict[str, str | int] = {"per_page": _RUNS_PER_PAGE}
    if config.branch is not None:
        params["branch"] = config.branch
    if head_sha is not None:
        params["head_sha"] = head_sha
    if config.event is not None:
        params["event"] = config.event
    path = f"{repo}/actions/runs"
    if config.workflow is not None:
        path = f"{repo}/actions/workflows/{quote(config.workflow, safe='')}/runs"
    try:
        response = await client.get(path, params)
    except ApiStatusError as exc:
        thing = f"workflow {config.workflow}" if config.workflow else "GitHub Actions"
        raise await explain_not_found(client, exc, container, repo, thing) from None
    runs = [r for r in _field(response.body, "workflow_runs", list, "the runs") if isinstance(r, dict)]
    total = response.body.get("total_count")
    count = total if isinstance(total, int) else len(runs)
    where = config.ref_text() + (f" ({head_sha[:12]})" if config.tag and head_sha else "")
    if not runs:
        if config.branch is not None:
            await _require_ref(client, f"{repo}/branches/{quote(config.branch, safe='/')}", container, config)
        workflow = f"workflow {config.workflow}" if config.workflow else "any workflow"
        return _no_run(f"no runs of {workflow} for {where} in {config.repo}", count, response, context)
    run = max(runs, key=_github_order)
    values = {
        "STATUS": run.get("status"),
        "CONCLUSION": run.get("conclusion"),
        "PROVIDER_STATUS": run.get("status"),
        "RUN_URL": run.get("html_url"),
        "RUN_NUMBER": run.get("run_number"),
        "WORKFLOW": run.get("name"),
        "HEAD_SHA": run.get("head_sha"),
        "REF": run.get("head_branch"),
        "EVENT": run.get("event"),
        "RUNS": count,
    }
    return _observation(
        values, f"run #{run.get('run_number')} of {run.get('name')} for {where}", run, context
    )


async def _gitlab(client: ApiClient, config: PipelineConfig, context: ProbeContext) -> Observation:
    assert config.project is not None
    project = f"projects/{quote(config.project, safe='')}"  # group/proj → group%2Fproj
    container = f"project {config.project}"
    # Ordered by id on request, and still picked by id here: a proxy or an old server
    # that ignores order_by must not make an old pipeline look like the newest.
    params: dict[str, str | int] = {"order_by": "id", "sort": "desc", "per_page": 20}
    name = config.branch or config.tag or config.ref
    if name is not None:
        params["ref"] = name
    if config.sha is not None:
        params["sha"] = config.sha
    try:
        response = await client.get(f"{project}/pipelines", params)
    except ApiStatusError as exc:
        raise await explain_not_found(client, exc, container, project, "pipelines") from None
    if not isinstance(response.body, list):
        raise PermanentProbeError(f"GitLab: the pipelines of {container} are not a list; is api_url right?")
    pipelines = [p for p in response.body if isinstance(p, dict)]
    total = response.headers.get("x-total", "")
    # GitLab omits X-Total beyond 10,000 rows; then the count is unknown (null).
    count = int(total) if total.isdigit() else (None if response.next_url else len(pipelines))
    if not pipelines:
        if config.branch or config.tag:
            kind = "branches" if config.branch else "tags"
            await _require_ref(
                client, f"{project}/repository/{kind}/{quote(name or '', safe='')}", container, config
            )
        return _no_run(f"no pipelines for {config.ref_text()} in {container}", count, response, context)
    pipeline = max(pipelines, key=_gitlab_order)
    status = pipeline.get("status")
    lifecycle = _GITLAB_LIFECYCLE.get(str(status), status)
    values = {
        "STATUS": lifecycle,
        "CONCLUSION": status if lifecycle == "completed" else None,
        "PROVIDER_STATUS": status,
        "RUN_URL": pipeline.get("web_url"),
        "RUN_NUMBER": pipeline.get("iid", pipeline.get("id")),
        "WORKFLOW": pipeline.get("name"),
        "HEAD_SHA": pipeline.get("sha"),
        "REF": pipeline.get("ref"),
        "EVENT": pipeline.get("source"),
        "RUNS": count,
    }
    title = f"pipeline #{values['RUN_NUMBER']} for {config.ref_text()} in {container}"
    return _observation(values, title, pipeline, context)


async def _require_ref(client: ApiClient, path: str, container: str, config: PipelineConfig) -> None:
    """No run found: make sure the branch or tag exists, so a typo is an ERROR, not a FAIL."""
    try:
        await client.get(path)
    except ApiStatusError as exc:
        if exc.status_code == 404:
            raise PermanentProbeError(
                f"{client.service}: {config.ref_text()} not found in {container}"
            ) from None
        # Without permission to read refs, "no run" is all we can say.


def _gitlab_order(pipeline: dict[str, Any]) -> int:
    pipeline_id = pipeline.get("id")
    return pipeline_id if isinstance(pipeline_id, int) else -1


def _github_order(run: dict[str, Any]) -> tuple[datetime, int, int]:
    number, run_id = run.get("run_number"), run.get("id")
    return (
        parse_time(run.get("created_at")) or _OLDEST,
        number if isinstance(number, int) else -1,
        run_id if isinstance(run_id, int) else -1,
    )


def _observation(
    values: dict[str, Any], title: str, run: dict[str, Any], context: ProbeContext
) -> Observation:
    conclusion = values["CONCLUSION"]
    outcome = f"{values['STATUS']}, {conclusion}" if conclusion else f"{values['STATUS']}, no conclusion yet"
    if values["PROVIDER_STATUS"] not in (values["STATUS"], conclusion):
        outcome += f" (GitLab: {values['PROVIDER_STATUS']})"
    url = values["RUN_URL"] if isinstance(values["RUN_URL"], str) else None
    # The evidence is as old as the run's last change: a green run from last week is stale.
    updated = parse_time(run.get("updated_at")) or context.now()
    evidence = Evidence(url or title, updated, url)
    return Observation(values=values, evidence=evidence, message=f"{title}: {outcome}")


def _no_run(message: str, count: int | None, response: ApiResponse, context: ProbeContext) -> Observation:
    names = ("STATUS", "CONCLUSION", "PROVIDER_STATUS", "RUN_URL", "RUN_NUMBER", "WORKFLOW")
    values: dict[str, Any] = dict.fromkeys((*names, "HEAD_SHA", "REF", "EVENT"))
    values["RUNS"] = count or 0
    return Observation(values=values, evidence=Evidence(response.url, context.now()), message=message)


def _field(body: Any, name: str, kind: type, what: str) -> Any:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, kind):
        raise PermanentProbeError(f"the API's answer has no {what} ({name!r}); is api_url right?")
    return value


PIPELINE = register(
    ProbeType(
        name="pipeline",
        summary="Newest GitHub Actions run or GitLab pipeline for an explicit branch, tag or commit.",
        config_model=PipelineConfig,
        gather=_gather,
        values=(
            Value("STATUS", "queued, in_progress, waiting or completed (GitLab mapped, see the docs)"),
            Value("CONCLUSION", "success, failure/failed, cancelled/canceled, …; null until completed"),
            Value("PROVIDER_STATUS", "the provider's own status word"),
            Value("RUN_URL", "web page of the run or pipeline"),
            Value("RUN_NUMBER", "run number (GitHub) or project-scoped pipeline iid (GitLab)"),
            Value("WORKFLOW", "workflow name (GitHub) or pipeline name (GitLab)"),
            Value("HEAD_SHA", "commit the run built"),
            Value("REF", "branch or tag the run was for"),
            Value("EVENT", "what triggered it (push, release, schedule, web, …)"),
            Value("RUNS", "runs matching the query (null when GitLab does not count)"),
        ),
        default_conditions=("[CONCLUSION] == success",),
        example={
            "type": "pipeline",
            "provider": "github",
            "repo": "valeo/neuroerp",
            "workflow": "release.yml",
            "tag": "v1.1.0",
            "token": {"env": "GITHUB_TOKEN"},
        },
    )
)
