"""The settings of ``golive serve``, from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from ..core.scheduler import VERDICT_INTERVAL, verdict_interval
from ..ha.database import DEFAULT_DURATION, lease_duration

DEFAULT_API_URL = "https://slack.com/api/"
ELECTIONS = ("database", "kubernetes")


@dataclass(frozen=True)
class Settings:
    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str
    port: int
    channel: str | None
    #: How long the leader lease (and each process's replica lease) stands unrenewed.
    lease: timedelta = DEFAULT_DURATION
    #: Where the leader lease lives: "database" or "kubernetes".
    election: str = "database"
    #: How often the leader re-evaluates the verdict (expiries withdraw GO).
    verdict_interval: timedelta = VERDICT_INTERVAL

    @classmethod
    def from_env(cls) -> Settings:
        """The settings in the environment; ValueError names a bad one and how to fix it."""
        api_url = os.environ.get("SLACK_API_URL") or DEFAULT_API_URL
        election = os.environ.get("GOLIVE_LEADER_ELECTION") or "database"
        if election not in ELECTIONS:
            choices = ", ".join(ELECTIONS)
            raise ValueError(
                f"GOLIVE_LEADER_ELECTION={election!r} is not one of {choices} (default: database)"
            )
        return cls(
            bot_token=os.environ.get("SLACK_BOT_TOKEN") or None,
            signing_secret=os.environ.get("SLACK_SIGNING_SECRET") or None,
            app_token=os.environ.get("SLACK_APP_TOKEN") or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            port=int(os.environ.get("PORT") or 3000),
            channel=os.environ.get("GOLIVE_CHANNEL") or None,
            lease=lease_duration(),
            election=election,
            verdict_interval=verdict_interval(),
        )
