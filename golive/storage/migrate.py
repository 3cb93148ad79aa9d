"""Alembic, configured in code: the migrations ship inside the package, and no
``alembic.ini`` is needed where golive runs (``golive/storage/alembic.ini`` exists only for
developers writing a new revision with the ``alembic`` command)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from .engine import migration_engine
from .urls import DatabaseURLs

MIGRATIONS = Path(__file__).parent / "migrations"
#: Alembic's ``context`` is a module-level proxy, so two migrations in one process would
#: trample each other; between processes, env.py's lock (PostgreSQL) or SQLite's write
#: lock keeps them apart.
_ALEMBIC = threading.Lock()
#: PostgreSQL advisory lock key (any constant) under which env.py migrates.
POSTGRES_LOCK = 0x601173


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Handing over the connection (not the URL) keeps a password with '%' in it away from
    # Alembic's configparser interpolation; env.py uses it when present.
    config.attributes["connection"] = connection
    return config


def upgrade(urls: DatabaseURLs, revision: str = "head") -> None:
    """Bring the schema to ``revision``; blocking, so the store runs it in a thread."""
    _run(urls, lambda config: command.upgrade(config, revision))


def downgrade(urls: DatabaseURLs, revision: str) -> None:
    _run(urls, lambda config: command.downgrade(config, revision))


def _run(urls: DatabaseURLs, step: Callable[[Config], None]) -> None:
    engine = migration_engine(urls)
    try:
        with _ALEMBIC, engine.begin() as connection:
            step(alembic_config(connection))
    finally:
        engine.dispose()
