"""A small client for the OCI distribution API (registry v2), for the ``registry`` probe.

It speaks only what the probe reads: ``/v2/``, manifests (GET and HEAD), config blobs,
the tags list and the referrers API. It answers the registry's authentication challenge
the way ``docker pull`` does:

- ``WWW-Authenticate: Basic realm=…`` → the configured username and password;
- ``WWW-Authenticate: Bearer realm=…,service=…,scope=…`` → ``GET <realm>?service=…&scope=…``
  (Basic auth with the credentials if there are any, anonymous otherwise), then the
  request again with ``Authorization: Bearer <token>``. Tokens are kept per scope for
  this client's life; one that expired is replaced on the next 401, once.

Every failure is a :class:`ProbeError`: no answer, a timeout, 429 and 5xx are temporary;
401/403 after authenticating, an unexpected status and a malformed answer are permanent.
Messages name the registry and what was asked for, never a password or a token (both are
also registered with the redactor, in case a server echoes them back).
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import urllib.request
from dataclasses import dataclass
from typing import Any, Self

import httpx

from ..errors import PermanentProbeError, TemporaryProbeError, reworded
from ..secrets import REDACTOR
from .documents import read_capped
from .http import USER_AGENT, public_url, transport_error

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
#: Without the OCI types, distribution answers 404 for OCI manifests; without the Docker
#: list type, old registries rewrite a multi-arch tag to one platform's manifest.
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
_DIGEST_ALGORITHMS = ("sha256", "sha512")
#: Tag lists and referrers are followed at most this many pages (``Link: rel="next"``).
MAX_PAGES = 50


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    document: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


class RegistryClient:
    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials | None,
        verify: ssl.SSLContext | bool,
        timeout: float,
        max_bytes: int,
        credential_hint: str | None = None,
    ) -> None:
        """``credential_hint``: what to do about the configured password when the registry
        refuses: set it (its variable is unset, so the registry was asked anonymously and
        only its refusal is an error) or check it (it was sent and refused)."""
        self.label = f"registry {public_url(url.rstrip('/'))}"
        self._credential_hint = credential_hint
        self._base = httpx.URL(url.rstrip("/"))
        self._credentials = credentials
        self._max_bytes = max_bytes
        self._http = httpx.AsyncClient(
            verify=verify, timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT}
        )
        self._tokens: dict[str, str] = {}  # scope → Authorization header value
        self._basic: str | None = None
        if credentials is not None:
            # A server that echoes request headers would otherwise show the encoded pair.
            REDACTOR.register(_basic_header(credentials).removeprefix("Basic "))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    # -- the calls the probe makes ------------------------------------------------------

    async def check_api(self, what: str) -> None:
        """``GET /v2/``: the registry answers and lets us in."""
        response, body = await self._request("GET", "/v2/", None, what)
        if response.status_code != 200:
            raise PermanentProbeError(
                f"{self.label}: /v2/ answered HTTP {response.status_code}{_error_detail(body)}; "
                "is this an OCI/Docker registry URL?"
            )

    async def manifest(self, name: str, reference: str, what: str) -> Manifest | None:
        """The manifest at a tag or digest, its digest verified; None if the registry has none."""
        response, body = await self._request(
            "GET", f"/v2/{name}/manifests/{reference}", name, what, accept=MANIFEST_ACCEPT
        )
        if response.status_code == 404:
            return None
        self._expect_ok(response, body, what)
        document = self._json_object(body, what)
        expected = reference if ":" in reference else None  # asked by digest
        digest = self._verified_digest(body, response.headers.get("docker-content-digest"), expected, what)
        media_type = self._manifest_type(response.headers.get("content-type", ""), document, what)
        return Manifest(digest, media_type, document)

    async def exists(self, name: str, reference: str, what: str) -> bool:
        response, body = await self._request(
            "HEAD", f"/v2/{name}/manifests/{reference}", name, what, accept=MANIFEST_ACCEPT
        )
        if response.status_code == 404:
            return False
        self._expect_ok(response, body, what)
        return True

    async def config_blob(self, name: str, digest: str, what: str) -> dict[str, Any] | None:
        response, body = await self._request("GET", f"/v2/{name}/blobs/{digest}", name, what)
        if response.status_code == 404:
            return None
        self._expect_ok(response, body, what)
        return self._json_object(body, what)

    async def tags(self, name: str, what: str) -> list[str] | None:
        """Every tag of a repository (following ``Link`` pages); None if the repository is unknown."""
        found: list[str] = []
        url: str | None = f"/v2/{name}/tags/list"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response, body = await self._request("GET", url, name, what)
            if response.status_code == 404:
                return found or None  # a 404 on a later page ends the list
            self._expect_ok(response, body, what)
            tags = self._json_object(body, what).get("tags") or []  # "tags": null when empty
            found.extend(tag for tag in tags if isinstance(tag, str))
            url = self._next_page(response)
        return found

    async def referrers(self, name: str, digest: str, what: str) -> list[dict[str, Any]] | None:
        """Descriptors of the manifests whose ``subject`` is ``digest``; None without API support.

        The spec says a registry with the API never answers 404 here; registries that
        predate it answer 404 (distribution 2.8: "404 page not found") or another 4xx
        from their router, so every 4xx but 401/403/429 means "no API" and the caller
        falls back to the ``sha256-<hex>`` tag.
        """
        found: list[dict[str, Any]] = []
        url: str | None = f"/v2/{name}/referrers/{digest}"
        for page in range(MAX_PAGES):
            if url is None:
                break
            response, body = await self._request("GET", url, name, what, accept=OCI_INDEX)
            if page == 0 and 400 <= response.status_code < 500:
                return None
            self._expect_ok(response, body, what)
            manifests = self._json_object(body, what).get("manifests") or []
            found.extend(d for d in manifests if isinstance(d, dict))
            url = self._next_page(response)
        return found

    # -- requests and authentication ----------------------------------------------------

    async def _request(
        self, method: str, path: str, name: str | None, what: str, *, accept: str | None = None
    ) -> tuple[httpx.Response, bytes]:
        """One call with authentication; raises for 401/403, 429 and 5xx, returns the rest."""
        scope = f"repository:{name}:pull" if name else ""
        # Paths are appended, not joined: a registry may live under a path prefix.
        target = httpx.URL(path) if "://" in path else httpx.URL(f"{self._base}{path}")
        response, body = await self._send(method, target, scope, accept, what)
        if response.status_code == 401:
            await self._authenticate(response, scope, what)
            response, body = await self._send(method, target, scope, accept, what)
        status = response.status_code
        if status in (401, 403):
            # Docker Hub and others refuse a repository that does not exist the same way.
            hint = "; some registries answer so for a repository that does not exist" if name else ""
            raise PermanentProbeError(
                f"{self.label}: not authorised for {what} "
                f"(HTTP {status} {self._how(scope)}){_error_detail(body)}{hint}{self._password_hint()}"
            )
        if status == 429 or status >= 500:
            raise TemporaryProbeError(f"{self.label}: HTTP {status} for {what}{_error_detail(body)}")
        return response, body

    async def _send(
        self, method: str, url: httpx.URL, scope: str, accept: str | None, what: str
    ) -> tuple[httpx.Response, bytes]:
        headers = {"Accept": accept} if accept else {}
        authorization = self._tokens.get(scope) or self._basic
        if authorization:
            # httpx drops it when a redirect leaves the origin (blobs on S3 or a CDN).
            headers["Authorization"] = authorization
        try:
            async with self._http.stream(method, url, headers=headers) as response:
                body = (
                    b""
                    if method == "HEAD"
                    else await read_capped(response, self._max_bytes, f"{self.label}: {what}")
                )
        except httpx.TimeoutException:
            raise TemporaryProbeError(f"{self.label}: timed out asking for {what}") from None
        except (httpx.HTTPError, ssl.SSLError) as exc:
            failure = transport_error(exc, f"{url.host}:{url.port or _port(url)}")
            raise reworded(failure, f"{self.label}: {failure.message}") from None
        return response, body

    async def _authenticate(self, response: httpx.Response, scope: str, what: str) -> None:
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        if "bearer" in challenges:
            token = await self._fetch_token(challenges["bearer"], scope, what)
            self._tokens[scope] = f"Bearer {token}"
        elif "basic" in challenges:
            if self._credentials is None:
                todo = self._credential_hint or "configure auth: {username: …, password: {env: VARIABLE}}"
                raise PermanentProbeError(
                    f"{self.label} asks for a username and password (Basic) for {what}; {todo}"
                )
            self._basic = _basic_header(self._credentials)
        else:
            raise PermanentProbeError(
                f"{self.label}: HTTP 401 for {what} without a Basic or Bearer challenge"
            )

    async def _fetch_token(self, challenge: dict[str, str], scope: str, what: str) -> str:
        realm = challenge.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise PermanentProbeError(f"{self.label}: its Bearer challenge names no usable realm ({realm!r})")
        service = f"token service {public_url(realm)}"
        if self._credentials is not None and realm.startswith("http://") and self._base.scheme == "https":
            raise PermanentProbeError(
                f"{self.label}: refusing to send the credentials to the plain-HTTP {service}"
            )
        # The challenge says what the registry wants; a challenge to /v2/ names no scope.
        params: dict[str, str | list[str]] = {"scope": (challenge.get("scope") or scope).split()}
        if challenge.get("service"):
            params["service"] = challenge["service"]
        auth = None
        if self._credentials is not None:
            auth = httpx.BasicAuth(self._credentials.username, self._credentials.password)
        try:
            async with self._http.stream("GET", realm, params=params, auth=auth) as response:
                body = await read_capped(response, self._max_bytes, service)
        except httpx.TimeoutException:
            raise TemporaryProbeError(f"{self.label}: the {service} timed out") from None
        except (httpx.HTTPError, ssl.SSLError) as exc:
            url = httpx.URL(realm)
            failure = transport_error(exc, f"{url.host}:{url.port or _port(url)}")
            raise reworded(
                failure,
                f"{self.label}: {service}: {failure.message}",
            ) from None
        status = response.status_code
        if status in (401, 403):
            raise PermanentProbeError(
                f"{self.label}: not authorised for {what}: the {service} refused "
                f"{self._who()} (HTTP {status}){_error_detail(body)}{self._set_hint()}"
            )
        if status != 200:
            raise (TemporaryProbeError if status == 429 or status >= 500 else PermanentProbeError)(
                f"{self.label}: the {service} answered HTTP {status}{_error_detail(body)}",
            )
        answer = self._json_object(body, f"the {service}'s answer")
        # The token spec allows either name; both are the same token when both are sent.
        token = answer.get("token") or answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentProbeError(f"{self.label}: the {service} answered without a token")
        REDACTOR.register(token)
        return token

    def _how(self, scope: str) -> str:
        if scope in self._tokens:
            return f"with a Bearer token for {self._who()}"
        if self._basic is not None:
            return f"with the Basic credentials of {self._who()}"
        return "anonymously"

    def _set_hint(self) -> str:
        """After a refusal: what to do about the configured password (set it, or check it)."""
        return f"; {self._credential_hint}" if self._credential_hint else ""

    def _password_hint(self) -> str:
        """After the registry itself refused: the password is in question when none was
        sent or Basic credentials were; a Bearer token means the token service took the
        password, and the refusal is about rights on the repository."""
        return self._set_hint() if self._credentials is None or self._basic is not None else ""

    def _who(self) -> str:
        return f"user {self._credentials.username!r}" if self._credentials else "anonymous access"

    # -- reading answers ----------------------------------------------------------------

    def _expect_ok(self, response: httpx.Response, body: bytes, what: str) -> None:
        if response.status_code != 200:
            raise PermanentProbeError(
                f"{self.label}: unexpected HTTP {response.status_code} for {what}{_error_detail(body)}"
            )

    def _json_object(self, body: bytes, what: str) -> dict[str, Any]:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise PermanentProbeError(f"{self.label}: {what}: the answer is not a JSON object")
        return document

    def _verified_digest(self, body: bytes, header: str | None, expected: str | None, what: str) -> str:
        """The manifest's digest, checked against the raw bytes (never re-serialised JSON).

        ``Docker-Content-Digest`` MUST be sent, old registries omit it: then sha256.
        """
        claims = [claim for claim in (header, expected) if claim]
        for claim in claims:
            algorithm = claim.partition(":")[0]
            if algorithm not in _DIGEST_ALGORITHMS:
                raise PermanentProbeError(f"{self.label}: {what}: unsupported digest algorithm in {claim!r}")
            actual = f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"
            if claim != actual:
                raise PermanentProbeError(
                    f"{self.label}: {what}: digest mismatch: the registry says {claim}, "
                    f"the manifest it sent hashes to {actual}"
                )
        return claims[0] if claims else f"sha256:{hashlib.sha256(body).hexdigest()}"

    def _manifest_type(self, content_type: str, document: dict[str, Any], what: str) -> str:
        """Content-Type decides (parameters ignored); a generic one falls back to the body."""
        declared = content_type.partition(";")[0].strip().lower()
        if declared in INDEX_TYPES | IMAGE_TYPES:
            return declared
        inner = document.get("mediaType")
        if inner in INDEX_TYPES | IMAGE_TYPES:
            return str(inner)
        if inner is None and isinstance(document.get("manifests"), list):
            return OCI_INDEX  # mediaType is optional in OCI 1.0 documents
        if inner is None and isinstance(document.get("layers"), list):
            return OCI_MANIFEST
        shown = declared or str(inner)
        raise PermanentProbeError(f"{self.label}: {what}: unsupported manifest type {shown!r} (schema 1?)")

    def _next_page(self, response: httpx.Response) -> str | None:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        url = response.url.join(link)
        if (url.scheme, url.host, url.port) != (self._base.scheme, self._base.host, self._base.port):
            return None  # never carry our Authorization header to another host
        return str(url)


def parse_challenges(headers: list[str]) -> dict[str, dict[str, str]]:
    """``WWW-Authenticate`` values → {scheme (lower case): parameters}."""
    found: dict[str, dict[str, str]] = {}
    for header in headers:
        scheme, _, rest = header.strip().partition(" ")
        # parse_http_list splits at commas outside quotes: scope="repository:a:pull,push".
        pairs = [item for item in urllib.request.parse_http_list(rest) if "=" in item]
        found.setdefault(scheme.lower(), urllib.request.parse_keqv_list(pairs))
    return found


def _basic_header(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return f"Basic {base64.b64encode(pair).decode()}"


def _error_detail(body: bytes) -> str:
    """The first entry of the registry's ``{"errors": [{"code", "message"}]}``, if any."""
    try:
        errors = json.loads(body).get("errors") if body else None
        first = errors[0] if isinstance(errors, list) and errors else None
    except (ValueError, AttributeError):
        return ""
    if not isinstance(first, dict):
        return ""
    text = ": ".join(str(first[k]) for k in ("code", "message") if first.get(k))
    return f" ({text[:200]})" if text else ""


def _port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
