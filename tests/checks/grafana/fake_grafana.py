"""A local HTTP server that speaks Grafana's HTTP API for the endpoints the grafana probes
read, in Grafana's wire format (JSON shapes from ``reference/probe-protocols.md`` §8 and
Grafana's ``pkg/api``; error bodies from ``pkg/util/errutil``):

- ``GET /api/health``: no auth; 200, or 503 with ``"database": "failing"``;
- every other route wants ``Authorization: Bearer <service-account token>``: none gives
  401 ``auth.unauthorized``, an unknown token 401 ``api-key.invalid``, and a token of
  another organisation than ``X-Grafana-Org-Id`` names 401
  ``api-key.organization-mismatch``;
- a Viewer's token reading users or alert rules gets 403 "Access denied";
- ``GET /api/search?type=dash-db&tag=…&limit=…&page=…`` (tags all must match, pages
  start at 1, sorted by title); ``GET /api/dashboards/uid/<uid>`` (404 when missing);
  ``GET /api/v1/provisioning/alert-rules``; ``GET /api/org/users``.

Each request is recorded (path, query, the org header) so tests can check what went over
the wire, e.g. that the search was paged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ADMIN_TOKEN = "glsa_admin_4c1d9e7b2a_5f3e"
VIEWER_TOKEN = "glsa_viewer_81b0c6d2f4_9a7c"
ORG_ID = 1
VERSION = "11.3.0"
_FOLDER = {"folderId": 3, "folderUid": "erp", "folderTitle": "ERP", "folderUrl": "/dashboards/f/erp/erp"}


def dashboard(uid: str, title: str, *tags: str) -> dict[str, Any]:
    return {"uid": uid, "title": title, "tags": sorted(tags)}


def alert_rule(uid: str, title: str, *, paused: bool = False) -> dict[str, Any]:
    return {
        "id": sum(map(ord, uid)),
        "uid": uid,
        "orgID": ORG_ID,
        "folderUID": "erp",
        "ruleGroup": "erp",
        "title": title,
        "condition": "C",
        "data": [],
        "updated": "2025-06-01T10:00:00Z",
        "noDataState": "NoData",
        "execErrState": "Error",
        "for": "5m",
        "annotations": {},
        "labels": {"team": "erp"},
        "provenance": "file",
        "isPaused": paused,
    }


def org_user(user_id: int, login: str, role: str, *, disabled: bool = False) -> dict[str, Any]:
    return {
        "orgId": ORG_ID,
        "userId": user_id,
        "uid": f"u{user_id:04d}",
        "email": f"{login}@valeo.example",
        "name": login.replace("-", " ").title(),
        "login": login,
        "role": role,
        "lastSeenAt": "2025-06-01T09:00:00Z",
        "lastSeenAtAge": "1 day",
        "isDisabled": disabled,
        "avatarUrl": f"/avatar/{user_id}",
    }


@dataclass
class GrafanaState:
    database_ok: bool = True
    dashboards: list[dict[str, Any]] = field(default_factory=list)
    alert_rules: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    #: (path, query, X-Grafana-Org-Id) of every request.
    requests: list[tuple[str, dict[str, list[str]], str | None]] = field(default_factory=list)


def _error(message_id: str, message: str, status: int) -> tuple[int, Any]:
    return status, {"message": message, "messageId": message_id, "statusCode": status, "traceID": ""}


def _access_denied(permission: str) -> tuple[int, Any]:
    return 403, {
        "accessErrorId": "ACE4217339561",
        "message": (
            f"You'll need additional permissions to perform this action. Permissions needed: {permission}"
        ),
        "title": "Access denied",
    }


class _Handler(BaseHTTPRequestHandler):
    state: GrafanaState  # set on the subclass each server gets

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        org = self.headers.get("X-Grafana-Org-Id")
        self.state.requests.append((parts.path, query, org))
        status, body = self._route(unquote(parts.path), query, org)
        payload = json.dumps(body, indent=2 if parts.path == "/api/health" else None).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _route(self, path: str, query: dict[str, list[str]], org: str | None) -> tuple[int, Any]:
        if path == "/api/health":
            health = {"commit": "0f8b3c2d1e", "database": "ok" if self.state.database_ok else "failing"}
            health["version"] = VERSION
            return (200 if self.state.database_ok else 503), health
        authorization = self.headers.get("Authorization")
        if authorization is None:
            return _error("auth.unauthorized", "Unauthorized", 401)
        token = authorization.removeprefix("Bearer ")
        if token not in (ADMIN_TOKEN, VIEWER_TOKEN):
            return _error("api-key.invalid", "Invalid API key", 401)
        if org is not None and org != str(ORG_ID):
            return _error(
                "api-key.organization-mismatch", "API key does not belong to the requested organization", 401
            )
        viewer = token == VIEWER_TOKEN
        if path == "/api/search":
            return 200, self._search(query)
        if path.startswith("/api/dashboards/uid/"):
            return self._dashboard(path.removeprefix("/api/dashboards/uid/"))
        if path == "/api/v1/provisioning/alert-rules":
            return _access_denied("alert.provisioning:read") if viewer else (200, self.state.alert_rules)
        if path == "/api/org/users":
            return _access_denied("org.users:read") if viewer else (200, self.state.users)
        return 404, {"message": "Not found"}

    def _search(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        tags = set(query.get("tag", []))
        limit = min(int(query.get("limit", ["1000"])[0]), 5000)
        page = int(query.get("page", ["1"])[0])
        hits = [
            {
                "id": index + 10,
                "uid": board["uid"],
                "title": board["title"],
                "uri": f"db/{board['uid']}",
                "url": f"/d/{board['uid']}/{board['uid']}",
                "slug": "",
                "type": "dash-db",
                "tags": board["tags"],
                "isStarred": False,
                **_FOLDER,
                "sortMeta": 0,
            }
            for index, board in enumerate(self.state.dashboards)
            if tags <= set(board["tags"])
        ]
        if query.get("type") != ["dash-db"] and not tags:  # folders show up unless excluded
            hits.append({"id": 3, "uid": "erp", "title": "ERP", "type": "dash-folder", "tags": []})
        hits.sort(key=lambda hit: str(hit["title"]).lower())
        return hits[(page - 1) * limit : page * limit]

    def _dashboard(self, uid: str) -> tuple[int, Any]:
        for board in self.state.dashboards:
            if board["uid"] == uid:
                model = {**board, "id": 10, "version": 4, "schemaVersion": 39, "panels": []}
                meta = {
                    "type": "db",
                    "slug": uid,
                    "url": f"/d/{uid}/{uid}",
                    "provisioned": True,
                    "updated": "2025-06-01T10:00:00Z",
                    **_FOLDER,
                }
                return 200, {"dashboard": model, "meta": meta}
        return 404, {"message": "Dashboard not found", "status": "not-found"}


@contextmanager
def fake_grafana(state: GrafanaState) -> Iterator[str]:
    """Serve ``state`` on a loopback port and yield the base URL."""
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
