"""An in-memory OCI registry with what distribution 2.8 lacks: the Bearer token flow, the
referrers API and ``Link`` pagination, in the distribution spec's wire format.

- Reads need ``Authorization: Bearer <token>``; without a token that grants
  ``repository:<name>:pull`` the answer is 401 with
  ``WWW-Authenticate: Bearer realm="<this server>/token",service="fake-registry",scope=…``.
- ``GET /token?service=…&scope=…`` issues tokens (as ``token`` or ``access_token``); with
  ``users`` it wants Basic credentials, else it hands out anonymous tokens. Repositories
  in ``denied`` are left out of the grant — not an error at the token server, a 401 later.
- ``GET /v2/<name>/referrers/<digest>`` lists the manifests whose ``subject`` is that
  digest, ``page_size`` per page; ``/tags/list`` pages the same way.
- Writes (blob upload POST + PUT, manifest PUT) are open, so tests fill it with the same
  :class:`tests.services.registry.ImagePusher` as the real registry.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SERVICE = "fake-registry"
_REPO_PATH = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs|referrers)/(?P<ref>[^/]+)$")
_TAGS_PATH = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_UPLOAD_PATH = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<id>[^/]*)$")


@dataclass
class Seen:
    """What the server was asked: method, path with query, Authorization header."""

    requests: list[tuple[str, str, str | None]] = field(default_factory=list)

    def token_requests(self) -> list[tuple[dict[str, list[str]], str | None]]:
        return [
            (parse_qs(urlsplit(path).query), auth)
            for _, path, auth in self.requests
            if path.startswith("/token")
        ]


class FakeRegistry(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        denied: frozenset[str] = frozenset(),
        token_field: str = "token",
        referrers_api: bool = True,
        page_size: int = 2,
        digest_header: bool = True,
        content_type_parameters: bool = False,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.users = dict(users or {})
        self.denied = denied
        self.token_field = token_field
        self.referrers_api = referrers_api
        self.page_size = page_size
        self.digest_header = digest_header
        #: ``application/vnd.oci.image.manifest.v1+json; charset=utf-8`` and the like.
        self.content_type_parameters = content_type_parameters
        #: Tag whose manifest is answered with a Docker-Content-Digest that is not its own.
        self.lying_about: set[str] = set()
        self.blobs: dict[tuple[str, str], bytes] = {}
        #: (name, tag or digest) → (media type, raw bytes)
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.tokens: dict[str, set[str]] = {}
        self.seen = Seen()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FakeRegistry:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeRegistry
    protocol_version = "HTTP/1.1"
    #: Headers and body go out in separate writes; with Nagle each answer waits ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _handle(self) -> None:
        with self.server.lock:
            self.server.seen.requests.append((self.command, self.path, self.headers.get("Authorization")))
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if url.path == "/token":
                self._token(parse_qs(url.query))
            elif self.command in ("POST", "PUT"):
                self._write(url.path, query)
            else:
                self._read(url.path, query)

    # -- the token service ---------------------------------------------------------------

    def _token(self, query: dict[str, list[str]]) -> None:
        if self.server.users:
            user, password = _basic(self.headers.get("Authorization"))
            if self.server.users.get(user or "") != password or password is None:
                self._errors(401, "UNAUTHORIZED", "invalid username or password")
                return
        granted = {
            scope
            for scope in query.get("scope", [])
            if scope.split(":")[1:2] and scope.split(":")[1] not in self.server.denied
        }
        token = f"tok-{uuid.uuid4().hex}"
        with self.server.lock:
            self.server.tokens[token] = granted
        issued = datetime.now(UTC).isoformat()
        self._json(200, {self.server.token_field: token, "expires_in": 60, "issued_at": issued})

    def _authorised(self, name: str | None) -> bool:
        header = self.headers.get("Authorization") or ""
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        granted = self.server.tokens.get(token or "")
        if granted is not None and (name is None or f"repository:{name}:pull" in granted):
            return True
        scope = f',scope="repository:{name}:pull"' if name else ""
        error = ',error="insufficient_scope"' if granted is not None else ""
        challenge = f'Bearer realm="{self.server.url}/token",service="{SERVICE}"{scope}{error}'
        self._errors(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
        return False

    # -- reads ---------------------------------------------------------------------------

    def _read(self, path: str, query: dict[str, str]) -> None:
        if path == "/v2/":
            if self._authorised(None):
                self._json(200, {})
            return
        tags = _TAGS_PATH.match(path)
        match = _REPO_PATH.match(path)
        found = tags or match
        if found is None:
            self._send(404, b"404 page not found\n", "text/plain")
            return
        name = found.group("name")
        if not self._authorised(name):
            return
        if tags is not None:
            self._tags(name, query)
        elif match is not None and match.group("kind") == "manifests":
            self._manifest(name, match.group("ref"))
        elif match is not None and match.group("kind") == "blobs":
            self._blob(name, match.group("ref"))
        elif match is not None:
            self._referrers(name, match.group("ref"), query)

    def _manifest(self, name: str, reference: str) -> None:
        stored = self.server.manifests.get((name, reference))
        if stored is None:
            self._errors(404, "MANIFEST_UNKNOWN", "manifest unknown")
            return
        media_type, body = stored
        if self.server.content_type_parameters:
            media_type += "; charset=utf-8"
        headers = {}
        if self.server.digest_header:
            digest = _digest(body)
            if reference in self.server.lying_about:
                digest = _digest(body + b" ")
            headers["Docker-Content-Digest"] = digest
        self._send(200, body, media_type, headers)

    def _blob(self, name: str, digest: str) -> None:
        data = self.server.blobs.get((name, digest))
        if data is None:
            self._errors(404, "BLOB_UNKNOWN", "blob unknown to registry")
        else:
            self._send(200, data, "application/octet-stream", {"Docker-Content-Digest": digest})

    def _tags(self, name: str, query: dict[str, str]) -> None:
        tags = sorted({ref for (repo, ref) in self.server.manifests if repo == name and ":" not in ref})
        if not tags:
            self._errors(404, "NAME_UNKNOWN", "repository name not known to registry")
            return
        size = int(query.get("n", self.server.page_size))
        after = [t for t in tags if t > query["last"]] if "last" in query else tags
        page = after[:size]
        headers = {}
        if len(after) > size:
            link = f"/v2/{name}/tags/list?{urlencode({'n': size, 'last': page[-1]})}"
            headers["Link"] = f'<{link}>; rel="next"'
        self._json(200, {"name": name, "tags": page}, headers)

    def _referrers(self, name: str, digest: str, query: dict[str, str]) -> None:
        if not self.server.referrers_api:
            self._send(404, b"404 page not found\n", "text/plain")
            return
        found = []
        for (repo, reference), (media_type, body) in sorted(self.server.manifests.items()):
            document = json.loads(body)
            if (
                repo != name
                or ":" not in reference
                or (document.get("subject") or {}).get("digest") != digest
            ):
                continue
            found.append(
                {
                    "mediaType": media_type,
                    "digest": reference,
                    "size": len(body),
                    "artifactType": document.get("artifactType") or document["config"]["mediaType"],
                    "annotations": document.get("annotations") or {},
                }
            )
        start = int(query.get("page", 0)) * self.server.page_size
        page = found[start : start + self.server.page_size]
        headers = {}
        if start + self.server.page_size < len(found):
            next_page = int(query.get("page", 0)) + 1
            headers["Link"] = f'</v2/{name}/referrers/{digest}?page={next_page}>; rel="next"'
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": page}
        self._send(200, json.dumps(index).encode(), OCI_INDEX, headers)

    # -- writes --------------------------------------------------------------------------

    def _write(self, path: str, query: dict[str, str]) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upload = _UPLOAD_PATH.match(path)
        match = _REPO_PATH.match(path)
        if upload is not None and self.command == "POST":
            location = f"/v2/{upload.group('name')}/blobs/uploads/{uuid.uuid4()}?_state=fake"
            self._send(202, b"", "text/plain", {"Location": location})
        elif upload is not None:
            assert _digest(body) == query["digest"]
            self.server.blobs[(upload.group("name"), query["digest"])] = body
            self._send(201, b"", "text/plain", {"Docker-Content-Digest": query["digest"]})
        elif match is not None and match.group("kind") == "manifests":
            name, digest = match.group("name"), _digest(body)
            media_type = self.headers.get("Content-Type", "")
            self.server.manifests[(name, match.group("ref"))] = (media_type, body)
            self.server.manifests[(name, digest)] = (media_type, body)
            self._send(201, b"", "text/plain", {"Docker-Content-Digest": digest})
        else:
            self._errors(405, "UNSUPPORTED", "not here")

    # -- answers -------------------------------------------------------------------------

    def _json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(document).encode(), "application/json", headers)

    def _errors(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(status, {"errors": [{"code": code, "message": message, "detail": None}]}, headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _basic(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.startswith("Basic "):
        return None, None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"
