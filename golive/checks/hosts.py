"""Which hosts URL-taking probes may reach: the checklist's ``allowed_hosts``.

A checklist names the systems of one release. A probe URL pointing elsewhere is a
mistake, or a checklist (or an environment variable it reads) aiming golive at some
internal service to read it out through the evidence. ``allowed_hosts`` lists glob
patterns (``*.valeo.example``, ``127.0.0.1``). Every http(s) URL among a probe's
parameters is checked when the checklist loads (:func:`probe_urls` finds them by field
name, so new probe types are covered without registering anything), and the probes that
follow redirects check every hop again when it happens (:func:`check_hop`; for httpx
clients the hook :func:`redirect_guard`). Without ``allowed_hosts`` every host is
allowed, and ``golive validate`` warns about it when the checklist has URLs to reach
(:func:`reaches_urls`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .errors import PermanentProbeError

if TYPE_CHECKING:
    import httpx

    from .model import Checklist

#: Parameters that hold the URL a probe reaches, at any depth of its config.
URL_FIELDS = frozenset({"url", "server", "api_url", "document", "summary", "report", "reports"})


def host_allowed(host: str, patterns: Sequence[str] | None) -> bool:
    """Whether ``host`` matches one of the patterns; every host does when there are none."""
    if patterns is None:
        return True
    host = host.strip("[]").rstrip(".").lower()
    return any(fnmatch.fnmatchcase(host, pattern.strip("[]").lower()) for pattern in patterns)


def probe_urls(config: BaseModel) -> list[tuple[str, str]]:
    """(dotted field path, URL) of every http(s) URL in a validated probe config."""
    found: list[tuple[str, str]] = []

    def walk(value: Any, path: tuple[str, ...], named: bool) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), (*path, name), name in URL_FIELDS)
        elif isinstance(value, list | tuple):
            for index, element in enumerate(value):
                walk(element, (*path, str(index)), named)
        elif isinstance(value, dict):  # only models inside: a JSON body's "url" is no target
            for key, element in value.items():
                if isinstance(element, BaseModel):
                    walk(element, (*path, str(key)), False)
        elif named and isinstance(value, str) and value.startswith(("http://", "https://")):
            found.append((".".join(path), value))

    walk(config, (), False)
    return found


def reaches_urls(checklist: Checklist) -> bool:
    """Whether ``allowed_hosts`` would limit anything: an item's probe with an http(s) URL
    among its parameters, a URL parameter left empty by an unset variable (it holds one
    once set), or a rollback trigger's Prometheus."""
    if any(trigger.prometheus_url for trigger in checklist.rollback.triggers):
        return True
    for item in checklist.items():
        config = item.config
        if config is not None:
            if probe_urls(config):
                return True
        elif item.unset_variables and _names_a_url(item.probe, named=False):
            return True
    return False


def _names_a_url(value: Any, *, named: bool) -> bool:
    """Whether a probe mapping as written has a URL parameter holding a URL or nothing."""
    if isinstance(value, dict):
        return any(_names_a_url(child, named=key in URL_FIELDS) for key, child in value.items())
    if isinstance(value, list):
        return any(_names_a_url(child, named=named) for child in value)
    return named and isinstance(value, str) and (value == "" or value.startswith(("http://", "https://")))


def url_host(url: str) -> str | None:
    import httpx  # its parser, as the probes will read the URL; loaded with allowed_hosts only

    try:
        return httpx.URL(url).host or None
    except httpx.InvalidURL:
        return None


def disallowed(config: BaseModel, patterns: Sequence[str] | None) -> list[tuple[str, str]]:
    """(field path, host) of every URL of the config whose host the patterns do not allow."""
    if patterns is None:
        return []
    refused = []
    for path, url in probe_urls(config):
        host = url_host(url)
        if host is not None and not host_allowed(host, patterns):
            refused.append((path, host))
    return refused


def check_hop(host: str, patterns: Sequence[str] | None) -> None:
    """Refuse a request (a redirect's next hop) to a host the checklist does not allow."""
    if not host_allowed(host, patterns):
        raise PermanentProbeError(
            f"redirected to {host}, which allowed_hosts does not list; "
            "add it to allowed_hosts if golive may reach it"
        )


def redirect_guard(patterns: Sequence[str] | None) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook: :func:`check_hop` for every request of a client."""

    async def hook(request: httpx.Request) -> None:
        check_hop(request.url.host, patterns)

    return hook
