"""The settings of ``golive serve``, taken from the process's settings model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr

from ...settings import (
    DEFAULT_LEASE,
    DEFAULT_SLACK_API_URL,
    DEFAULT_VERDICT_INTERVAL,
    ELECTIONS,
    load_settings,
    team_ids,
)

DEFAULT_API_URL = DEFAULT_SLACK_API_URL
__all__ = ["DEFAULT_API_URL", "ELECTIONS", "Settings"]


@dataclass(frozen=True)
class Settings:
    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str
    port: int
    channel: str | None
    #: How long the leader lease (and each process's replica lease) stands unrenewed.
    lease: timedelta = DEFAULT_LEASE
    #: Where the leader lease lives: "database" or "kubernetes".
    election: str = "database"
    #: How often the leader re-evaluates the verdict (expiries withdraw GO).
    verdict_interval: timedelta = DEFAULT_VERDICT_INTERVAL
    #: Workspaces or Grid organisations served besides the bot token's own.
    allowed_teams: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> Settings:
        """The settings in the environment; ValueError names a bad one and how to fix it."""
        env = load_settings()
        return cls(
            bot_token=_revealed(env.slack_bot_token),
            signing_secret=_revealed(env.slack_signing_secret),
            app_token=_revealed(env.slack_app_token),
            api_url=env.slack_api_url,
            port=env.port,
            channel=env.channel,
            lease=env.lease,
            election=env.leader_election,
            verdict_interval=env.verdict_interval,
            allowed_teams=team_ids(env.slack_allowed_teams),
        )


def _revealed(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None
