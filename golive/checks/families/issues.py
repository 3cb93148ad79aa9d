"""``issue_tracker``: how many release-blocking issues are open, on GitHub, GitLab or Jira.

An issue counts when it is open and carries *any* of ``labels`` (the APIs' own ``labels``
filters mean *all of*, so each label is queried on its own and the results are merged).

- GitHub reads ``GET /repos/{o}/{r}/issues?state=open&labels=…`` page by page (``Link:
  rel="next"``) and drops pull requests (items with a ``pull_request`` key). This list is
  the primary source rather than ``/search/issues``: it is exact and current, where search
  is served from an index that lags behind new labels, may answer ``incomplete_results``,
  has a 30-requests-a-minute limit of its own, and its query syntax is mid-migration
  (legacy search deprecated, ``advanced_search`` opt-in). A release gate must not miss a
  blocker labelled a minute ago.
- GitLab reads ``GET /projects/:id/issues?state=opened&labels=…``; with one label the
  ``X-Total`` header is the count, otherwise (or when GitLab omits X-Total, beyond 10,000)
  the pages are read and merged.
- Jira runs ``jql`` (or builds ``project = … AND labels in (…) AND statusCategory != Done``).
  ``api: server`` (Server/Data Center, default unless the host is ``*.atlassian.net``) reads
  ``total`` from ``GET /rest/api/2/search``; ``api: cloud`` pages through
  ``GET /rest/api/3/search/jql`` (``nextPageToken``), because Atlassian removed the old
  search from Jira Cloud in 2025 (it answers 410 Gone) and the new one has no total.

GitHub and GitLab labels are checked to exist first: a misspelt label matches nothing, and
"0 blockers" must never come from a typo.
"""

from __future__ import annotations

import base64
from typing import Any, Literal
from urllib.parse import quote, urlencode

import httpx
from pydantic import Field, field_validator, model_validator

from ..clients.forges import (
    ApiClient,
    ApiStatusError,
    ForgeConfig,
    check_target,
    explain_not_found,
    follow_pages,
    forge_client,
)
from ..errors import PermanentProbeError, ProbeError
from ..probe import Evidence, Observation, ProbeContext, ProbeType, Value, register
from ..secrets import REDACTOR

_PER_PAGE = 100
#: 1000 open blockers is as much a NO-GO as 1001; beyond that OPEN says "at least".
_MAX_PAGES = 10
_LABEL_HINT = " (a misspelt label would match no issues and pass)"


class IssueTrackerConfig(ForgeConfig):
    type: Literal["issue_tracker"] = "issue_tracker"
    provider: Literal["github", "gitlab", "jira"]
    #: An issue counts when it carries any of these.
    labels: list[str] = Field(default_factory=list)
    #: Jira: the whole query, instead of project + labels.
    jql: str | None = Field(default=None, min_length=1)
    #: Jira Cloud: the account's email; the token is then an API token sent with Basic
    #: auth. Without it the token is sent as a Bearer personal access token (Server/DC).
    email: str | None = Field(default=None, min_length=3)
    #: Jira: which search API; by default ``cloud`` for ``*.atlassian.net``, else ``server``.
    api: Literal["server", "cloud"] | None = None
    #: How many of the open issues ISSUES and the message list.
    show: int = Field(default=5, ge=0, le=50)

    @field_validator("labels", mode="before")
    @classmethod
    def _one_label(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("labels")
    @classmethod
    def _no_empty_labels(cls, value: list[str]) -> list[str]:
        if any(not label.strip() for label in value):
            raise ValueError("labels must not be empty")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> IssueTrackerConfig:
        if self.provider != "jira":
            check_target(self.provider, self)
            if not self.labels:
                raise ValueError("name the blocker labels, e.g. labels: [release blocker]")
            if self.jql or self.email or self.api:
                raise ValueError("jql, email and api are for jira")
            return self
        if self.api_url is None:
            raise ValueError("jira needs api_url: the Jira base URL, e.g. https://jira.example.com")
        if self.repo is not None:
            raise ValueError("repo is for github; jira takes jql, or project and labels")
        if (self.jql is None) == (self.project is None or not self.labels):
            raise ValueError("jira takes either jql, or project and labels (not both)")
        if self.email and not self.token:
            raise ValueError("email goes with token: {env: VARIABLE} (the Jira API token)")
        return self


class _Found:
    """Open issues collected across labels and pages, each once."""

    def __init__(self) -> None:
        self.issues: dict[Any, dict[str, Any]] = {}
        self.total: int | None = None
        self.complete = True

    def add(self, key: Any, number: str, title: Any, url: Any) -> None:
        self.issues.setdefault(key, {"key": number, "title": str(title or ""), "url": url})

    @property
    def count(self) -> int:
        return self.total if self.total is not None else len(self.issues)


async def _gather(config: IssueTrackerConfig, context: ProbeContext) -> Observation:
    found = _Found()
    if config.provider == "jira":
        where, source, link = await _jira(config, context, found)
    else:
        async with forge_client(config.provider, config, context) as client:
            if config.provider == "github":
                where, source = await _github(client, config, found)
            else:
                where, source = await _gitlab(client, config, found)
        link = None
    return _observation(config, found, where, Evidence(source, context.now(), link))


async def _github(client: ApiClient, config: IssueTrackerConfig, found: _Found) -> tuple[str, str]:
    repo, container = f"repos/{config.repo}", f"repository {config.repo}"
    source = ""
    for label in config.labels:
        await _require_label(client, f"{repo}/labels/{quote(label, safe='')}", container, repo, label)
        params: dict[str, str | int] = {"state": "open", "labels": label, "per_page": _PER_PAGE}
        try:
            pages, complete = await follow_pages(
                client, await client.get(f"{repo}/issues", params), _MAX_PAGES
            )
        except ApiStatusError as exc:
            if exc.status_code == 410:  # "Issues are disabled for this repo"
                raise PermanentProbeError(f"GitHub: issues are disabled for {container}") from None
            raise await explain_not_found(client, exc, container, repo, "issues") from None
        found.complete &= complete
        source = source or pages[0].url
        for item in _items(pages):
            # The issues list includes pull requests; a PR is not an issue.
            if "pull_request" not in item:
                found.add(
                    item.get("number"), f"#{item.get('number')}", item.get("title"), item.get("html_url")
                )
    return container, source


async def _gitlab(client: ApiClient, config: IssueTrackerConfig, found: _Found) -> tuple[str, str]:
    assert config.project is not None
    project, container = f"projects/{quote(config.project, safe='')}", f"project {config.project}"
    source = ""
    for label in config.labels:
        await _require_label(client, f"{project}/labels/{quote(label, safe='')}", container, project, label)
        params: dict[str, str | int] = {
            "state": "opened",
            "labels": label,
            "scope": "all",
            "per_page": _PER_PAGE,
        }
        try:
            first = await client.get(f"{project}/issues", params)
            total = first.headers.get("x-total", "")
            if len(config.labels) == 1 and total.isdigit():
                # One label and a count in the headers: the first page is all we need.
                pages, complete = [first], True
                found.total = int(total)
            else:
                pages, complete = await follow_pages(client, first, _MAX_PAGES)
        except ApiStatusError as exc:
            raise await explain_not_found(client, exc, container, project, "issues") from None
        found.complete &= complete
        source = source or pages[0].url
        for item in _items(pages):
            found.add(item.get("id"), f"#{item.get('iid')}", item.get("title"), item.get("web_url"))
    return container, source


async def _jira(config: IssueTrackerConfig, context: ProbeContext, found: _Found) -> tuple[str, str, str]:
    assert config.api_url is not None
    base = config.api_url
    jql = config.jql or _build_jql(config)
    token = config.token.resolve() if config.token else None
    headers = {"Accept": "application/json"}
    auth: httpx.Auth | None = None
    if token and config.email:
        # A server echoing request headers would otherwise show the encoded pair.
        REDACTOR.register(base64.b64encode(f"{config.email}:{token}".encode()).decode())
        auth = httpx.BasicAuth(config.email, token)
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    api = config.api or ("cloud" if (httpx.URL(base).host or "").endswith(".atlassian.net") else "server")
    async with ApiClient("Jira", base, context, headers, config, auth=auth) as client:
        try:
            if api == "server":
                source = await _jira_server(client, jql, config.show, base, found)
            else:
                source = await _jira_cloud(client, jql, base, found)
        except ApiStatusError as exc:
            raise _jira_error(exc, jql, api) from None
    return f"Jira ({jql})", source, f"{base}/issues/?{urlencode({'jql': jql})}"


async def _jira_server(client: ApiClient, jql: str, show: int, base: str, found: _Found) -> str:
    params: dict[str, str | int] = {"jql": jql, "maxResults": max(show, 1), "fields": "summary"}
    response = await client.get("rest/api/2/search", params)
    total = response.body.get("total") if isinstance(response.body, dict) else None
    if not isinstance(total, int):
        raise PermanentProbeError(
            f"Jira: the search answer has no total; is api_url ({base}) the Jira base URL?"
        )
    found.total = total
    _add_jira(response.body, base, found)
    return response.url


async def _jira_cloud(client: ApiClient, jql: str, base: str, found: _Found) -> str:
    params: dict[str, str | int] = {"jql": jql, "maxResults": _PER_PAGE, "fields": "summary"}
    response = await client.get("rest/api/3/search/jql", params)
    source = response.url
    for _ in range(_MAX_PAGES):
        if not isinstance(response.body, dict) or not isinstance(response.body.get("issues"), list):
            raise PermanentProbeError(
                f"Jira: the search answer has no issues; is api_url ({base}) the Jira base URL?"
            )
        _add_jira(response.body, base, found)
        token = response.body.get("nextPageToken")
        # The last page has no nextPageToken (JRACLOUD-92184), or says isLast.
        if not token or response.body.get("isLast") is True:
            return source
        response = await client.get("rest/api/3/search/jql", {**params, "nextPageToken": str(token)})
    found.complete = False
    return source


def _add_jira(body: Any, base: str, found: _Found) -> None:
    for issue in body.get("issues") or []:
        if isinstance(issue, dict):
            fields = issue.get("fields")
            summary = fields.get("summary") if isinstance(fields, dict) else None
            key = str(issue.get("key"))
            found.add(issue.get("id", key), key, summary, f"{base}/browse/{key}")


def _jira_error(exc: ApiStatusError, jql: str, api: str) -> ProbeError:
    if exc.status_code == 410 and api == "server":
        return PermanentProbeError(
            f"Jira: /rest/api/2/search is gone (HTTP 410: {exc.detail}); this is Jira Cloud, set api: cloud"
        )
    if exc.status_code == 400:
        return PermanentProbeError(f"Jira rejected the query {jql!r}: {exc.detail or 'HTTP 400'}")
    if exc.status_code == 404:
        return PermanentProbeError(
            f"Jira: the search API is not there (HTTP 404); is api_url the Jira base URL? ({api})"
        )
    return exc


def _build_jql(config: IssueTrackerConfig) -> str:
    labels = ", ".join(_jql_string(label) for label in config.labels)
    # statusCategory (To Do / In Progress / Done) holds across custom workflows; status names do not.
    return (
        f"project = {_jql_string(config.project or '')} AND labels in ({labels}) AND statusCategory != Done"
    )


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _require_label(
    client: ApiClient, path: str, container: str, container_path: str, label: str
) -> None:
    try:
        await client.get(path)
    except ApiStatusError as exc:
        raise await explain_not_found(
            client, exc, container, container_path, f"label {label!r}", _LABEL_HINT
        ) from None


def _items(pages: list[Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in pages:
        if not isinstance(page.body, list):
            raise PermanentProbeError(f"the issues at {page.url} are not a list; is api_url right?")
        items.extend(item for item in page.body if isinstance(item, dict))
    return items


def _observation(config: IssueTrackerConfig, found: _Found, where: str, evidence: Evidence) -> Observation:
    shown = list(found.issues.values())[: config.show]
    what = "open issue" if found.count == 1 else "open issues"
    labels = " or ".join(repr(label) for label in config.labels)
    labelled = f" labelled {labels}" if config.provider != "jira" else ""
    if found.count == 0:
        message = f"no open issues{labelled} in {where}"
    else:
        listed = ", ".join(f"{issue['key']} {issue['title']}".strip() for issue in shown)
        more = f", and {found.count - len(shown)} more" if found.count > len(shown) else ""
        message = f"{found.count} {what}{labelled} in {where}: {listed}{more}"
        if not found.complete:
            message = f"at least {message} (stopped reading after {_MAX_PAGES} pages)"
    return Observation(values={"OPEN": found.count, "ISSUES": shown}, evidence=evidence, message=message)


ISSUE_TRACKER = register(
    ProbeType(
        name="issue_tracker",
        summary="Open issues with a blocker label (GitHub, GitLab) or matching a JQL query (Jira).",
        config_model=IssueTrackerConfig,
        gather=_gather,
        values=(
            Value("OPEN", "open issues with any of the labels (or matching the JQL)"),
            Value("ISSUES", "the first few of them: key, title, url", structured=True),
        ),
        default_conditions=("[OPEN] == 0",),
        example={
            "type": "issue_tracker",
            "provider": "github",
            "repo": "valeo/neuroerp",
            "labels": ["release blocker"],
            "token": {"env": "GITHUB_TOKEN"},
        },
    )
)
