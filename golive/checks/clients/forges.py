"""A small client for the JSON REST APIs of GitHub, GitLab and Jira, shared by the
``pipeline`` and ``issue_tracker`` probes.

Every way a call can go wrong becomes a :class:`ProbeError` that says which kind it is:

- unreachable, timed out, HTTP 5xx, rate limited (GitHub answers 403 with
  ``x-ratelimit-remaining: 0``; secondary limits carry ``Retry-After``; 429): temporary,
  trying again later may help;
- 401, and 403 that is not a rate limit: not authorised, the token is wrong, expired or
  lacks a scope;
- 404 and other 4xx: misconfigured. Callers that know more (is the repository or the tag
  missing?) catch :class:`ApiStatusError` and say so, see :func:`explain_not_found`.

Tokens travel in request headers only; they are never part of a URL or a message, and
every secret resolved through :class:`SecretRef` is registered with the redactor anyway.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import field_validator

from ..errors import PermanentProbeError, ProbeError, TemporaryProbeError, reworded
from ..hosts import redirect_guard
from ..probe import ProbeConfig, ProbeContext
from ..secrets import SecretRef

# The http family's transport diagnosis (TLS vs unreachable) and its redirect guard for
# custom credential headers: one definition of each, not a second copy here.
from .documents import read_capped
from .http import (
    USER_AGENT,
    failure_target,
    public_url,
    resolve_path,
    shorten,
    ssl_context,
    strip_on_cross_origin,
    transport_error,
)

_DETAIL_LIMIT = 200
GITHUB_API = "https://api.github.com"
GITLAB_API = "https://gitlab.com/api/v4"


class ApiStatusError(ProbeError):
    """The API answered with an error status; ``detail`` is its own explanation, if any.
    Raised as one of the two kinds below."""

    def __init__(self, message: str, *, status_code: int, detail: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


class TemporaryApiStatusError(ApiStatusError, TemporaryProbeError):
    """Rate limited or a server error: trying again later may help."""


class PermanentApiStatusError(ApiStatusError, PermanentProbeError):
    """Not authorised, not found, or another client error."""


@dataclass(frozen=True)
class ApiResponse:
    body: Any
    headers: httpx.Headers
    #: The URL that answered, with secret-looking query values masked.
    url: str
    next_url: str | None


class ForgeConfig(ProbeConfig):
    """What the forge-backed probes share: where the API is, and the token by reference."""

    #: Base URL of the API; each provider has a default (Jira has none).
    api_url: str | None = None
    #: GitHub: ``owner/name``.
    repo: str | None = None
    #: GitLab: numeric id or ``group/subgroup/project``; Jira: the project key.
    project: str | None = None
    token: SecretRef | None = None
    #: CA bundle (PEM) for a self-hosted server with a private CA; relative to the checklist.
    ca_file: str | None = None

    @field_validator("api_url")
    @classmethod
    def _check_api_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a valid URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("write an absolute http:// or https:// URL")
        if url.userinfo:
            raise ValueError("credentials in the URL are not allowed; use token: {env: VARIABLE}")
        return value.rstrip("/")

    @field_validator("repo")
    @classmethod
    def _check_repo(cls, value: str | None) -> str | None:
        if value is not None and (value.count("/") != 1 or not all(value.split("/"))):
            raise ValueError("write the repository as owner/name")
        return value


def check_target(provider: str, config: ForgeConfig) -> None:
    """Raise ValueError unless the fields a provider needs are there (for model validators)."""
    if provider == "github":
        if config.repo is None:
            raise ValueError("provider github needs repo: owner/name")
        if config.project is not None:
            raise ValueError("project is for gitlab and jira; github takes repo: owner/name")
    elif config.project is None:
        raise ValueError(f"provider {provider} needs project")
    elif config.repo is not None:
        raise ValueError(f"repo is for github; {provider} takes project")


def credential(token: SecretRef | None) -> str:
    """How a message names the credential: where it comes from, never what it is."""
    return f"the token from {token.describe()}" if token else "no token (anonymous access)"


def forge_client(
    provider: Literal["github", "gitlab"], config: ForgeConfig, context: ProbeContext
) -> ApiClient:
    """A client with each forge's own headers and token scheme."""
    token = config.token.resolve() if config.token else None
    if provider == "github":
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return ApiClient("GitHub", config.api_url or GITHUB_API, context, headers, config)
    # GitLab takes the personal/project access token in its own header.
    headers = {"PRIVATE-TOKEN": token} if token else {}
    return ApiClient("GitLab", config.api_url or GITLAB_API, context, headers, config, ("PRIVATE-TOKEN",))


class ApiClient:
    """An ``httpx.AsyncClient`` bound to one API, turning answers into JSON or ProbeErrors."""

    def __init__(
        self,
        service: str,
        api_url: str,
        context: ProbeContext,
        headers: Mapping[str, str],
        config: ForgeConfig,
        secret_headers: tuple[str, ...] = (),
        auth: httpx.Auth | None = None,
    ) -> None:
        self.service = service
        self.credential = credential(config.token)
        self._base = httpx.URL(api_url.rstrip("/") + "/")
        self._context = context
        self._headers = {"User-Agent": USER_AGENT, **headers}
        self._secret_headers = secret_headers
        self._auth = auth
        self._ca_file = config.ca_file
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> ApiClient:
        # Loading a CA bundle (even the default one) takes ~0.1 s of file I/O and CPU:
        # not on the event loop, and the default one only once.
        ca_file = resolve_path(self._ca_file, self._context.base_dir) if self._ca_file else None
        verify = await asyncio.to_thread(functools.partial(ssl_context, ca_file=ca_file))
        self._client = httpx.AsyncClient(
            base_url=self._base,
            headers=self._headers,
            auth=self._auth,
            verify=verify,
            timeout=self._context.timeout,
            follow_redirects=True,  # GitHub answers 301 for renamed repositories
            event_hooks={
                "request": [
                    strip_on_cross_origin(self._base, self._secret_headers),
                    redirect_guard(self._context.allowed_hosts),
                ]
            },
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> ApiResponse:
        """GET a path below the API URL, or an absolute URL the API itself handed out."""
        assert self._client is not None, "use the client as an async context manager"
        target = httpx.URL(path)
        if target.is_absolute_url and (target.scheme, target.host, target.port) != (
            self._base.scheme,
            self._base.host,
            self._base.port,
        ):
            # Our headers carry the token: never send them to a host the API merely named.
            raise PermanentProbeError(
                f"{self.service}: refusing to follow a link to another host: {public_url(target)}"
            )
        try:
            async with self._client.stream("GET", path, params=params) as response:
                content = await read_capped(response, self._context.max_body_bytes, public_url(response.url))
        except httpx.TimeoutException as exc:
            raise TemporaryProbeError(
                f"{self.service} at {failure_target(exc, self._base)}: "
                f"timed out after {self._context.timeout:g}s",
            ) from None
        except (httpx.HTTPError, ssl.SSLError) as exc:
            error = transport_error(exc, failure_target(exc, self._base))
            raise reworded(error, f"{self.service}: {error.message}") from None
        if not 200 <= response.status_code < 300:
            raise self._status_error(response, content)
        try:
            body = json.loads(content)
        except (ValueError, RecursionError):
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise PermanentProbeError(
                f"{self.service} at {public_url(response.url)} answered {kind}, not JSON; "
                "is api_url the API's base URL?"
            ) from None
        following = response.links.get("next", {}).get("url")
        return ApiResponse(body, response.headers, public_url(response.url), following)

    def _status_error(self, response: httpx.Response, content: bytes) -> ApiStatusError:
        code = response.status_code
        detail = error_detail(content)
        said = f": {detail}" if detail else ""
        where = public_url(response.url)
        if code == 429 or (code == 403 and _rate_limited(response.headers, detail)):
            return TemporaryApiStatusError(
                f"{self.service}: rate limit exhausted (HTTP {code}{said}){_reset(response.headers)}; "
                "temporary, the next run may pass",
                status_code=code,
                detail=detail,
            )
        if code in (401, 403):
            what = "was refused" if code == 401 else "lacks a permission (scope or membership) this needs"
            return PermanentApiStatusError(
                f"{self.service}: not authorised (HTTP {code}{said}): {self.credential} {what}",
                status_code=code,
                detail=detail,
            )
        kind = TemporaryApiStatusError if code >= 500 else PermanentApiStatusError
        return kind(f"{self.service}: HTTP {code}{said} from {where}", status_code=code, detail=detail)


async def explain_not_found(
    client: ApiClient, error: ApiStatusError, container: str, container_path: str, thing: str, hint: str = ""
) -> ProbeError:
    """A 404 (GitHub also 422) for ``thing`` inside ``container``: which of them is missing?

    Forges answer 404 both for a repository that does not exist and for one the token may
    not see, and for a missing workflow or tag inside it; one more request tells them apart.
    """
    if error.status_code not in (404, 422):
        return error
    try:
        await client.get(container_path)
    except ApiStatusError as missing:
        if missing.status_code != 404:
            return missing
        return PermanentProbeError(
            f"{client.service}: {container} not found (HTTP 404); check the name, and that "
            f"{client.credential} can see it (private ones answer 404 to tokens without access)"
        )
    return PermanentProbeError(f"{client.service}: {thing} not found in {container}{hint}")


async def follow_pages(
    client: ApiClient, first: ApiResponse, max_pages: int
) -> tuple[list[ApiResponse], bool]:
    """``first`` and the pages its ``Link: rel="next"`` headers lead to, up to ``max_pages``
    in all; and whether that was all of them."""
    responses = [first]
    while responses[-1].next_url:
        if len(responses) >= max_pages:
            return responses, False
        # The next link already carries every query parameter.
        responses.append(await client.get(responses[-1].next_url))
    return responses, True


def error_detail(content: bytes) -> str:
    """The API's own words about an error: GitHub/GitLab ``message``, Jira ``errorMessages``."""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        text = content.decode("utf-8", errors="replace").strip()
        # An HTML error page says nothing useful in one line.
        return "" if text.startswith("<") else shorten(text, _DETAIL_LIMIT)
    parts: list[str] = []
    if isinstance(body, dict):
        for key in ("message", "error", "error_description"):
            if body.get(key):
                parts.append(str(body[key]))
        for key in ("errorMessages", "warningMessages"):
            if isinstance(body.get(key), list):
                parts.extend(str(m) for m in body[key])
        if isinstance(body.get("errors"), dict):
            parts.extend(f"{k}: {v}" for k, v in body["errors"].items())
    return shorten("; ".join(parts), _DETAIL_LIMIT)


def _rate_limited(headers: httpx.Headers, detail: str) -> bool:
    return (
        headers.get("x-ratelimit-remaining") == "0"
        or "retry-after" in headers
        or "rate limit" in detail.lower()
    )


def _reset(headers: httpx.Headers) -> str:
    retry_after = headers.get("retry-after", "")
    if retry_after.isdigit():
        return f", retry after {retry_after}s"
    # GitHub: x-ratelimit-reset; GitLab: ratelimit-reset. Both are epoch seconds.
    reset = headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset") or ""
    if reset.isdigit():
        return f", resets at {datetime.fromtimestamp(int(reset), UTC):%Y-%m-%d %H:%M:%S} UTC"
    return ""


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as the forges write it (``Z`` or an offset), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
