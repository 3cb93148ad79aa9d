"""Fake GitHub and GitLab REST APIs on 127.0.0.1, speaking their real wire formats.

GitHub: docs.github.com/rest (workflow runs, commits, branches, labels, issues), with its
auth (``Authorization: Bearer``, 401 "Bad credentials"), its primary rate limit (403 with
``x-ratelimit-remaining: 0``), 404 for unknown repositories, 422 for unknown commits, 410
when issues are disabled, and ``Link`` pagination whose next URLs use the
``/repositories/{id}/…`` form the real API hands out.

GitLab: docs.gitlab.com/ee/api (pipelines, issues, labels, repository tags and branches),
``PRIVATE-TOKEN``, projects by id or URL-encoded path (``group%2Fproj``; an unencoded
slash does not route, as on GitLab), ``X-Total``/``X-Next-Page``/``Link`` headers, and
X-Total left out as GitLab does beyond 10,000 rows.

Every request is recorded so tests can assert on what the probe sent.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlencode

GITHUB_TOKEN = "ghp_fakeToken0123456789abcdefABCDEF"
GITLAB_TOKEN = "glpat-fakeToken-9876543210"
RESET_EPOCH = 1_750_000_000  # 2025-06-15 15:06:40 UTC


@dataclass(frozen=True)
class Request:
    path: str  # raw, still percent-encoded
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case

    def segments(self) -> list[str]:
        return self.path.strip("/").split("/")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # JSON-able, or str/bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


class Api(Protocol):
    requests: list[Request]

    def handle(self, request: Request, base_url: str) -> Reply: ...


class FakeServer(ThreadingHTTPServer):
    """One server for the session; tests swap in a fresh ``api`` with its own state."""

    daemon_threads = True

    def __init__(self, api: Api) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serving(api: Api) -> Iterator[FakeServer]:
    server = FakeServer(api)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        request = Request(
            path,
            {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()},
            {k.lower(): v for k, v in self.headers.items()},
        )
        api = self.server.api
        api.requests.append(request)
        reply = api.handle(request, self.server.base_url)
        if isinstance(reply.body, bytes | str):
            content = reply.body.encode() if isinstance(reply.body, str) else reply.body
            kind = "text/plain; charset=utf-8"
        else:
            content, kind = json.dumps(reply.body).encode(), "application/json; charset=utf-8"
        self.send_response(reply.status)
        headers = {"Content-Type": kind, **reply.headers, "Content-Length": str(len(content))}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(content)


def _page(items: list[Any], query: dict[str, str], page_size: int) -> tuple[list[Any], int, int, int]:
    """Slice like the real APIs: per_page (capped), 1-based page. Returns (items, page, per_page, pages)."""
    per_page = min(int(query.get("per_page", "30")), page_size)
    page = int(query.get("page", "1"))
    pages = max(1, -(-len(items) // per_page))
    return items[(page - 1) * per_page : page * per_page], page, per_page, pages


def _link(url: str, query: dict[str, str], page: int, rel: str) -> str:
    return f'<{url}?{urlencode({**query, "page": page})}>; rel="{rel}"'


# --- GitHub -------------------------------------------------------------------------


def workflow_run(
    run_id: int,
    *,
    number: int,
    head_sha: str,
    status: str = "completed",
    conclusion: str | None = "success",
    head_branch: str = "main",
    event: str = "push",
    workflow: str = "build.yml",
    name: str = "Build",
    created_at: str = "2025-06-01T10:00:00Z",
    updated_at: str | None = None,
    repo: str = "valeo/neuroerp",
) -> dict[str, Any]:
    """A workflow run as ``GET /repos/{o}/{r}/actions/runs`` lists it."""
    api = f"https://api.github.com/repos/{repo}/actions/runs/{run_id}"
    return {
        "id": run_id,
        "name": name,
        "node_id": f"WFR_{run_id}",
        "head_branch": head_branch,
        "head_sha": head_sha,
        "path": f".github/workflows/{workflow}",
        "display_title": f"{name} #{number}",
        "run_number": number,
        "event": event,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": _workflow_id(workflow),
        "check_suite_id": run_id * 10,
        "url": api,
        "html_url": f"https://github.com/{repo}/actions/runs/{run_id}",
        "jobs_url": f"{api}/jobs",
        "created_at": created_at,
        "updated_at": updated_at or created_at,
        "run_attempt": 1,
        "run_started_at": created_at,
    }


def _workflow_id(file_name: str) -> int:
    return 1000 + sum(map(ord, file_name))


def github_issue(
    number: int,
    title: str,
    labels: list[str],
    *,
    pull_request: bool = False,
    state: str = "open",
    repo: str = "valeo/neuroerp",
) -> dict[str, Any]:
    kind = "pull" if pull_request else "issues"
    issue: dict[str, Any] = {
        "id": 5_000_000 + number,
        "number": number,
        "title": title,
        "state": state,
        "html_url": f"https://github.com/{repo}/{kind}/{number}",
        "labels": [{"id": sum(map(ord, label)), "name": label, "color": "b60205"} for label in labels],
        "user": {"login": "dev"},
        "comments": 0,
        "created_at": "2025-05-30T08:00:00Z",
    }
    if pull_request:
        issue["pull_request"] = {"url": f"https://api.github.com/repos/{repo}/pulls/{number}"}
    return issue


@dataclass
class GitHubRepo:
    id: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # tag → commit sha
    branches: dict[str, str] = field(default_factory=dict)
    labels: set[str] = field(default_factory=set)
    issues: list[dict[str, Any]] = field(default_factory=list)
    has_issues: bool = True


def _github_error(status: int, message: str, docs: str = "https://docs.github.com/rest") -> Reply:
    return Reply(status, {"message": message, "documentation_url": docs, "status": str(status)})


@dataclass
class FakeGitHub:
    repos: dict[str, GitHubRepo] = field(default_factory=dict)
    token: str = GITHUB_TOKEN
    rate_limited: bool = False
    page_size: int = 100
    #: A broken or hostile API could hand out next links to another host.
    link_base: str | None = None
    requests: list[Request] = field(default_factory=list)

    def handle(self, request: Request, base_url: str) -> Reply:
        if self.rate_limited:
            return Reply(
                403,
                {
                    "message": "API rate limit exceeded for user ID 583231.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                },
                {
                    "x-ratelimit-limit": "5000",
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-used": "5000",
                    "x-ratelimit-reset": str(RESET_EPOCH),
                    "x-ratelimit-resource": "core",
                },
            )
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _github_error(401, "Bad credentials")
        parts = request.segments()
        name, repo = self._repo(parts)
        if repo is None:
            return _github_error(
                404, "Not Found", "https://docs.github.com/rest/repos/repos#get-a-repository"
            )
        rest = parts[2:] if parts[0] == "repositories" else parts[3:]
        return self._route(name, repo, rest, request, base_url)

    def _repo(self, parts: list[str]) -> tuple[str, GitHubRepo | None]:
        if parts[0] == "repos" and len(parts) >= 3:
            name = f"{parts[1]}/{parts[2]}"
            return name, self.repos.get(name)
        if parts[0] == "repositories" and len(parts) >= 2:
            for name, repo in self.repos.items():
                if str(repo.id) == parts[1]:
                    return name, repo
        return "", None

    def _route(self, name: str, repo: GitHubRepo, rest: list[str], request: Request, base: str) -> Reply:
        if not rest:
            return Reply(200, {"id": repo.id, "full_name": name, "html_url": f"https://github.com/{name}"})
        head, tail = rest[0], unquote("/".join(rest[1:]))
        if head == "commits":
            sha = repo.tags.get(tail) or repo.branches.get(tail)
            if sha is None:
                docs = "https://docs.github.com/rest/commits/commits#get-a-commit"
                return _github_error(422, f"No commit found for SHA: {tail}", docs)
            commit_url = f"https://github.com/{name}/commit/{sha}"
            return Reply(200, {"sha": sha, "commit": {"message": "Release"}, "html_url": commit_url})
        if head == "branches":
            if tail not in repo.branches:
                return _github_error(404, "Branch not found")
            return Reply(200, {"name": tail, "commit": {"sha": repo.branches[tail]}, "protected": True})
        if head == "labels":
            if tail not in repo.labels:
                return _github_error(
                    404, "Not Found", "https://docs.github.com/rest/issues/labels#get-a-label"
                )
            return Reply(200, {"id": 1, "name": tail, "color": "b60205", "default": False})
        if rest == ["actions", "runs"]:
            return self._runs(repo.runs, request)
        if rest[:2] == ["actions", "workflows"] and rest[3:] == ["runs"]:
            wanted = unquote(rest[2])
            ids = {
                r["workflow_id"]
                for r in repo.runs
                if wanted in (str(r["workflow_id"]), r["path"].split("/")[-1])
            }
            if not ids:
                return _github_error(404, "Not Found")
            return self._runs([r for r in repo.runs if r["workflow_id"] in ids], request)
        if rest == ["issues"]:
            return self._issues(repo, request, base)
        return _github_error(404, "Not Found")

    def _runs(self, runs: list[dict[str, Any]], request: Request) -> Reply:
        filters = {"branch": "head_branch", "head_sha": "head_sha", "event": "event", "status": "status"}
        for parameter, key in filters.items():
            if parameter in request.query:
                runs = [r for r in runs if r[key] == request.query[parameter]]
        shown, *_ = _page(runs, request.query, self.page_size)
        return Reply(200, {"total_count": len(runs), "workflow_runs": shown})

    def _issues(self, repo: GitHubRepo, request: Request, base: str) -> Reply:
        if not repo.has_issues:
            return _github_error(
                410, "Issues are disabled for this repo", "https://docs.github.com/v3/issues/"
            )
        state = request.query.get("state", "open")
        wanted = [label for label in request.query.get("labels", "").split(",") if label]
        issues = [
            i
            for i in repo.issues
            if state in (i["state"], "all") and all(w in {lb["name"] for lb in i["labels"]} for w in wanted)
        ]
        shown, page, _, pages = _page(issues, request.query, self.page_size)
        url = f"{self.link_base or base}/repositories/{repo.id}/issues"
        links = []
        if page < pages:
            links += [_link(url, request.query, page + 1, "next"), _link(url, request.query, pages, "last")]
        if page > 1:
            links += [_link(url, request.query, page - 1, "prev"), _link(url, request.query, 1, "first")]
        return Reply(200, shown, {"Link": ", ".join(links)} if links else {})


# --- GitLab -------------------------------------------------------------------------


def gitlab_pipeline(
    pipeline_id: int,
    *,
    iid: int,
    sha: str,
    status: str = "success",
    ref: str = "v1.1.0",
    source: str = "push",
    updated_at: str = "2025-06-01T10:30:00.000Z",
    path: str = "valeo/erp",
) -> dict[str, Any]:
    """A pipeline as ``GET /projects/:id/pipelines`` lists it."""
    return {
        "id": pipeline_id,
        "iid": iid,
        "project_id": 42,
        "sha": sha,
        "ref": ref,
        "status": status,
        "source": source,
        "created_at": "2025-06-01T10:00:00.000Z",
        "updated_at": updated_at,
        "web_url": f"https://gitlab.example.com/{path}/-/pipelines/{pipeline_id}",
    }


def gitlab_issue(
    iid: int, title: str, labels: list[str], *, state: str = "opened", path: str = "valeo/erp"
) -> dict[str, Any]:
    return {
        "id": 900_000 + iid,
        "iid": iid,
        "project_id": 42,
        "title": title,
        "state": state,
        "labels": labels,
        "issue_type": "issue",
        "web_url": f"https://gitlab.example.com/{path}/-/issues/{iid}",
        "references": {"short": f"#{iid}", "full": f"{path}#{iid}"},
        "created_at": "2025-05-30T08:00:00.000Z",
    }


@dataclass
class GitLabProject:
    id: int
    path: str
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    branches: set[str] = field(default_factory=set)


@dataclass
class FakeGitLab:
    projects: list[GitLabProject] = field(default_factory=list)
    token: str = GITLAB_TOKEN
    #: As GitLab does beyond 10,000 rows: no X-Total, X-Total-Pages or rel="last".
    omit_totals: bool = False
    page_size: int = 100
    requests: list[Request] = field(default_factory=list)

    def handle(self, request: Request, base_url: str) -> Reply:
        if request.headers.get("private-token") != self.token:
            return Reply(401, {"message": "401 Unauthorized"})
        parts = request.segments()
        if parts[:3] != ["api", "v4", "projects"] or len(parts) < 4:
            return Reply(404, {"error": "404 Not Found"})
        # The id segment is numeric or a URL-encoded path; a raw slash splits it.
        wanted = unquote(parts[3])
        project = next((p for p in self.projects if wanted in (str(p.id), p.path)), None)
        if project is None:
            return Reply(404, {"message": "404 Project Not Found"})
        rest = parts[4:]
        url = f"{base_url}{'/'.join(['', *parts])}"
        if not rest:
            return Reply(200, {"id": project.id, "path_with_namespace": project.path})
        if rest == ["pipelines"]:
            return self._pipelines(project, request, url)
        if rest == ["issues"]:
            return self._issues(project, request, url)
        collections = {
            ("labels",): (project.labels, "Label"),
            ("repository", "tags"): (project.tags, "Tag"),
            ("repository", "branches"): (project.branches, "Branch"),
        }
        for prefix, (names, kind) in collections.items():
            if tuple(rest[: len(prefix)]) == prefix and len(rest) == len(prefix) + 1:
                name = unquote(rest[-1])  # names come URL-encoded, slashes too
                if name not in names:
                    return Reply(404, {"message": f"404 {kind} Not Found"})
                return Reply(200, {"name": name})
        return Reply(404, {"error": "404 Not Found"})

    def _pipelines(self, project: GitLabProject, request: Request, url: str) -> Reply:
        pipelines = [
            p
            for p in project.pipelines
            if request.query.get("ref", p["ref"]) == p["ref"]
            and request.query.get("sha", p["sha"]) == p["sha"]
        ]
        if request.query.get("order_by") == "id":
            pipelines.sort(key=lambda p: p["id"], reverse=request.query.get("sort", "desc") == "desc")
        return self._paged(pipelines, request, url)

    def _issues(self, project: GitLabProject, request: Request, url: str) -> Reply:
        state = request.query.get("state", "all")
        wanted = [label for label in request.query.get("labels", "").split(",") if label]
        issues = [
            i
            for i in project.issues
            if state in (i["state"], "all") and all(w in i["labels"] for w in wanted)
        ]
        return self._paged(issues, request, url)

    def _paged(self, items: list[Any], request: Request, url: str) -> Reply:
        shown, page, per_page, pages = _page(items, request.query, self.page_size)
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        links = [_link(url, request.query, 1, "first")]
        if page < pages:
            links.append(_link(url, request.query, page + 1, "next"))
        if not self.omit_totals:
            headers.update({"X-Total": str(len(items)), "X-Total-Pages": str(pages)})
            links.append(_link(url, request.query, pages, "last"))
        headers["Link"] = ", ".join(links)
        return Reply(200, shown, headers)
