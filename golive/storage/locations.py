"""Which database: the one named, else ``$GOLIVE_DB_URL``, else a SQLite file in the
working directory. Without SQLAlchemy, so a :mod:`.snapshot` chooses as the Store does."""

from __future__ import annotations

import os

ENV_VAR = "GOLIVE_DB_URL"
DEFAULT_URL = "sqlite:///golive.db"


def chosen_url(url: str | None = None) -> str:
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL
