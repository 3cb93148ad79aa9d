"""The HTTP client the monitoring families share: ``prometheus_*``, ``alertmanager`` and
``grafana_*`` each read JSON from one server, given by its base URL (which may carry a
path prefix, e.g. ``https://ops.example.com/prometheus``).

What a call can come to, and who decides:

- no answer (refused, DNS, timeout, a broken connection): :class:`ProbeError`, temporary;
  a TLS failure: permanent. The diagnosis is the http family's, so both say the same.
- 401 and 403: :class:`ProbeError` "not authorised", naming the credential by where it
  comes from, never by its value. A credential whose environment variable is unset is
  no credential: the request goes without, as servers without auth want, and only a
  refusal is an error, one that says which variable to set;
- a redirect: permanent :class:`ProbeError`; an API that redirects is behind a login page
  or the URL is not the base URL. Not following it also keeps credentials at home;
- any other status the caller did not ``allow``: :class:`ProbeError`, temporary for 5xx.
  Callers allow the statuses their protocol gives a meaning (a 503 from ``/-/ready`` is
  "not ready", a 404 for a dashboard uid is "missing", 400/422 carry Prometheus' error).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
from pydantic import field_validator

from ..errors import PermanentProbeError, ProbeError, TemporaryProbeError, reworded
from ..probe import ProbeConfig, ProbeContext
from ..secrets import REDACTOR, SecretRef
from .documents import read_capped
from .http import (
    USER_AGENT,
    HttpAuth,
    checked_url,
    failure_target,
    public_url,
    resolve_path,
    shorten,
    ssl_context,
    timeout_phase,
    transport_error,
)

_DETAIL_LIMIT = 300


class MonitoringConfig(ProbeConfig):
    """Where the server is and how to authenticate; every monitoring probe has these."""

    #: Base URL of the server, without the API path.
    url: str
    #: ``bearer: {env: …}`` (Grafana service-account tokens) or ``basic: {username, password}``.
    auth: HttpAuth | None = None
    verify_tls: bool = True
    #: CA bundle (PEM) that issued the server's certificate; relative to the checklist.
    ca_file: str | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        expected = "the server's absolute http:// or https:// base URL"
        auth = "auth: {bearer: {env: VARIABLE}}"
        return checked_url(value, expected, auth, base_only=True).rstrip("/")


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: httpx.Headers
    content: bytes
    #: The URL that answered, secret-looking query values masked.
    url: str

    def json(self, service: str) -> Any:
        try:
            return json.loads(self.content)
        except (ValueError, RecursionError):
            kind = self.headers.get("content-type", "no content type").split(";")[0]
            raise PermanentProbeError(
                f"{service} at {self.url} answered {kind} (HTTP {self.status}), not JSON; "
                f"is url the base URL of {service}?"
            ) from None

    def detail(self) -> str:
        """The server's own words about an error, shortened to one line."""
        return error_detail(self.content)


def error_detail(content: bytes) -> str:
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        text = content.decode("utf-8", errors="replace").strip()
        # An HTML error page says nothing useful in one line.
        return "" if text.startswith("<") else shorten(text, _DETAIL_LIMIT)
    if isinstance(body, dict):
        parts = [str(body[key]) for key in ("message", "error") if body.get(key)]
        return shorten("; ".join(parts), _DETAIL_LIMIT)
    return ""


def credential(auth: HttpAuth | None, unset: SecretRef | None = None) -> str:
    """How a message names the credential: where it comes from, never what it is.
    ``unset``: the configured secret that was not there, so none was sent."""
    if unset is not None:
        return f"the request without credentials ({unset.describe()} is not set)"
    if auth is None:
        return "the request without credentials (set auth)"
    if auth.bearer is not None:
        return f"the bearer token from {auth.bearer.describe()}"
    assert auth.basic is not None
    return f"user {auth.basic.username!r} with the password from {auth.basic.password.describe()}"


class MonitoringClient:
    """An ``httpx.AsyncClient`` bound to one server; use it as an async context manager."""

    def __init__(
        self,
        service: str,
        config: MonitoringConfig,
        context: ProbeContext,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.service = service
        self.base = config.url
        self._config = config
        self._context = context
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self._client: httpx.AsyncClient | None = None
        #: The configured secret whose variable is unset: the requests go without it.
        self._unset: SecretRef | None = None

    def url(self, path: str) -> str:
        """The public URL of an API path, for evidence and messages."""
        return public_url(self.base + path)

    async def __aenter__(self) -> MonitoringClient:
        auth: httpx.BasicAuth | None = None
        headers = dict(self._headers)
        if self._config.auth is not None and self._config.auth.bearer is not None:
            token = self._config.auth.bearer.resolve_optional()
            if token is None:
                self._unset = self._config.auth.bearer
            else:
                headers["Authorization"] = f"Bearer {token}"
        elif self._config.auth is not None and self._config.auth.basic is not None:
            basic = self._config.auth.basic
            password = basic.password.resolve_optional()
            if password is None:
                self._unset = basic.password
            else:
                # A server that echoes request headers would otherwise show the encoded pair.
                REDACTOR.register(base64.b64encode(f"{basic.username}:{password}".encode()).decode())
                auth = httpx.BasicAuth(basic.username, password)
        ca_file = resolve_path(self._config.ca_file, self._context.base_dir) if self._config.ca_file else None
        # Loading a CA bundle reads files and parses hundreds of certificates: not on the loop.
        verify = await asyncio.to_thread(
            functools.partial(ssl_context, verify=self._config.verify_tls, ca_file=ca_file)
        )
        self._client = httpx.AsyncClient(
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=self._context.timeout,
            follow_redirects=False,
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get(
        self,
        path: str,
        params: Mapping[str, str | int | list[str]] | None = None,
        *,
        allow: Collection[int] = (),
    ) -> Answer:
        """GET ``path`` below the base URL; 2xx and the ``allow``-ed statuses come back."""
        assert self._client is not None, "use the client as an async context manager"
        fallback = httpx.URL(self.base)
        try:
            async with self._client.stream("GET", self.base + path, params=params) as response:
                content = await read_capped(response, self._context.max_body_bytes, public_url(response.url))
        except httpx.TimeoutException as exc:
            raise TemporaryProbeError(
                f"{self.service} at {failure_target(exc, fallback)}: timed out after "
                f"{self._context.timeout:g}s {timeout_phase(exc)}",
            ) from None
        # httpcore does not map every TLS alert; a bare ssl.SSLError can come through.
        except (httpx.HTTPError, ssl.SSLError) as exc:
            error = transport_error(exc, failure_target(exc, fallback))
            raise reworded(error, f"{self.service}: {error.message}") from None
        answer = Answer(
            response.status_code, response.reason_phrase, response.headers, content, public_url(response.url)
        )
        if 200 <= answer.status < 300 or answer.status in allow:
            return answer
        raise self._status_error(answer)

    def _status_error(self, answer: Answer) -> ProbeError:
        code = answer.status
        detail = answer.detail()
        said = f": {detail}" if detail else ""
        if code in (401, 403):
            what = "was refused" if code == 401 else "lacks a permission this needs"
            todo = f"; {self._unset.unset_hint()}" if self._unset is not None else ""
            return PermanentProbeError(
                f"{self.service}: not authorised (HTTP {code}{said}): "
                f"{credential(self._config.auth, self._unset)} {what}{todo}"
            )
        if 300 <= code < 400:
            location = public_url(answer.headers.get("location", "?"))
            return PermanentProbeError(
                f"{self.service} at {answer.url} redirects to {location} (HTTP {code}); "
                "set url to the server's base URL (a login page means the API needs auth)"
            )
        if code == 404:
            return PermanentProbeError(
                f"{self.service}: {answer.url} not found (HTTP 404{said}); is url the base URL "
                f"of {self.service}?"
            )
        return (TemporaryProbeError if code >= 500 else PermanentProbeError)(
            f"{self.service}: HTTP {code} {answer.reason} from {answer.url}{said}",
        )


