"""A fake Jira REST API on 127.0.0.1: Server/Data Center search and Jira Cloud's
enhanced search, with their real shapes.

- ``GET /rest/api/2/search`` → ``{expand, startAt, maxResults, total, issues}``; in cloud
  mode it answers 410 Gone with Atlassian's removal notice (CHANGE-2046), as Jira Cloud does.
- ``GET /rest/api/3/search/jql`` (cloud only) → ``{issues, nextPageToken?, isLast}``: no
  total, and no ``nextPageToken`` key at all on the last page (JRACLOUD-92184).
- Basic auth (email + API token) and Bearer personal access tokens; wrong credentials get
  401 with Jira's plain-text body.
- JQL: the form the probe builds (``project = "K" AND labels in ("a", "b") AND
  statusCategory != Done``) is evaluated; other queries only if registered in ``saved``;
  anything else is a 400 with ``errorMessages``, as Jira rejects bad JQL.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from tests.checks.pipeline.fake_forges import Reply, Request

JIRA_EMAIL = "release-bot@valeo.example"
JIRA_API_TOKEN = "ATATT3xFakeJiraApiToken0123"
JIRA_PAT = "NjQ5fakePersonalAccessToken77"
_GENERATED = re.compile(
    r'^project = "(?P<project>(?:[^"\\]|\\.)*)" AND labels in \((?P<labels>.*)\) AND statusCategory != Done$'
)
REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class JiraIssue:
    key: str
    summary: str
    labels: tuple[str, ...]
    done: bool = False

    @property
    def project(self) -> str:
        return self.key.split("-")[0]


@dataclass
class FakeJira:
    issues: list[JiraIssue] = field(default_factory=list)
    cloud: bool = False
    #: Issues per page, whatever maxResults asks (Jira may return fewer).
    page_size: int = 50
    saved: dict[str, list[str]] = field(default_factory=dict)  # JQL → issue keys
    requests: list[Request] = field(default_factory=list)

    def handle(self, request: Request, base_url: str) -> Reply:
        basic = base64.b64encode(f"{JIRA_EMAIL}:{JIRA_API_TOKEN}".encode()).decode()
        if request.headers.get("authorization") not in (f"Basic {basic}", f"Bearer {JIRA_PAT}"):
            return Reply(401, "Client must be authenticated to access this resource.")
        if request.path == "/rest/api/2/search":
            if self.cloud:
                return Reply(410, {"errorMessages": [REMOVED], "errors": {}})
            return self._classic(request, base_url)
        if request.path == "/rest/api/3/search/jql" and self.cloud:
            return self._enhanced(request, base_url)
        return Reply(404, "<html><body>Oops, you've found a dead link.</body></html>")

    def _matching(self, jql: str) -> list[JiraIssue] | Reply:
        if jql in self.saved:
            return [i for i in self.issues if i.key in self.saved[jql]]
        match = _GENERATED.match(jql)
        if match is None:
            return _jql_error(f"Error in the JQL Query: The query '{jql}' is not understood.")
        project = _unescape(match["project"])
        if project not in {i.project for i in self.issues}:
            return _jql_error(f"The value '{project}' does not exist for the field 'project'.")
        labels = {_unescape(label) for label in _QUOTED.findall(match["labels"])}
        return [i for i in self.issues if i.project == project and not i.done and labels & set(i.labels)]

    def _classic(self, request: Request, base_url: str) -> Reply:
        found = self._matching(request.query.get("jql", ""))
        if isinstance(found, Reply):
            return found
        start, wanted = int(request.query.get("startAt", "0")), int(request.query.get("maxResults", "50"))
        shown = found[start : start + min(wanted, self.page_size)]
        body = {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": wanted,
            "total": len(found),
            "issues": [_issue(i, base_url, 2) for i in shown],
        }
        return Reply(200, body)

    def _enhanced(self, request: Request, base_url: str) -> Reply:
        found = self._matching(request.query.get("jql", ""))
        if isinstance(found, Reply):
            return found
        token = request.query.get("nextPageToken")
        start = int(base64.b64decode(token).decode().split(":")[1]) if token else 0
        size = min(int(request.query.get("maxResults", "50")), self.page_size)
        body: dict[str, Any] = {"issues": [_issue(i, base_url, 3) for i in found[start : start + size]]}
        if start + size < len(found):
            body["nextPageToken"] = base64.b64encode(f"offset:{start + size}".encode()).decode()
            body["isLast"] = False
        else:
            body["isLast"] = True
        return Reply(200, body)


def _issue(issue: JiraIssue, base_url: str, version: int) -> dict[str, Any]:
    number = int(issue.key.split("-")[1])
    return {
        "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
        "id": str(10000 + number),
        "self": f"{base_url}/rest/api/{version}/issue/{10000 + number}",
        "key": issue.key,
        "fields": {"summary": issue.summary},
    }


def _jql_error(message: str) -> Reply:
    return Reply(400, {"errorMessages": [message], "errors": {}})


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
