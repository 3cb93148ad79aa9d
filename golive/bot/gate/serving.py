"""The gates on ``golive serve``: its routes, read from the environment, and the leader's
round answering held deploys. What the process wiring calls, in two steps: routes before
the HTTP server starts, the round once the election runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ...checks.model import Checklist
from ...settings import as_environment, load_settings
from ...storage import Store
from . import api, protection
from .github import GitHubSettings
from .tokens import ApiTokens


@dataclass(frozen=True)
class Gates:
    checklist: Checklist
    store: Store
    github: GitHubSettings | None
    channel: Callable[[], protection.Channel | None]

    def start(self, *, interval: float, leading: Callable[[], bool]) -> list[asyncio.Task[None]]:
        """The leader's round answering GitHub (every replica takes deliveries)."""
        if self.github is None:
            return []
        answering = protection.watch_pending(
            self.checklist, self.store, self.github, interval=interval, leading=leading, channel=self.channel
        )
        return [asyncio.create_task(answering)]


def install(
    application: web.Application,
    checklist: Checklist,
    store: Store,
    channel: Callable[[], protection.Channel | None],
) -> Gates:
    """Add the verdict API and, with a GitHub App configured, its webhook. A malformed
    setting stops the start (SystemExit naming it)."""
    # Read through the settings model: the variables as it checked them.
    environment = as_environment(load_settings())
    try:
        tokens = ApiTokens.from_variables(environment)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"verdict API: {exc}") from None
    try:
        github = GitHubSettings.from_variables(environment)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"GitHub App: {exc}") from None
    api.install(application, store, tokens)
    if github is not None:
        protection.install_webhook(application, store, checklist, github.webhook_secret, channel)
    return Gates(checklist, store, github, channel)
