"""Alembic, configured in code: the migrations ship inside the package, and no
``alembic.ini`` is needed where golive runs (``golive/storage/alembic.ini`` exists only for
developers writing a new revision with the ``alembic`` command).

Alembic is imported only when a migration is due: opening a database whose stored
revision is already the newest one (:func:`head_revisions`, read from the revision files
themselves) costs one query, not the second of imports Alembic and its migration
environment take, which every `golive status` would otherwise pay."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from .engine import migration_engine
from .revisions import MIGRATIONS, head_revisions
from .urls import DatabaseURLs

if TYPE_CHECKING:
    from alembic.config import Config

#: Alembic's ``context`` is a module-level proxy, so two migrations in one process would
#: trample each other; between processes, env.py's lock (PostgreSQL) or SQLite's write
#: lock keeps them apart.
_ALEMBIC = threading.Lock()
#: PostgreSQL advisory lock key (any constant) under which env.py migrates.
POSTGRES_LOCK = 0x601173


class MigrationFailed(Exception):
    """Alembic refused to migrate (a stored revision it does not know: a database that a
    newer golive has migrated); the message is Alembic's."""


def stored_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the database says it is at; none for a new database."""
    if not inspect(connection).has_table("alembic_version"):
        return frozenset()
    rows = connection.execute(text("SELECT version_num FROM alembic_version"))
    return frozenset(str(row[0]) for row in rows)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Handing over the connection (not the URL) keeps a password with '%' in it away from
    # Alembic's configparser interpolation; env.py uses it when present.
    config.attributes["connection"] = connection
    return config


def upgrade(urls: DatabaseURLs, revision: str = "head") -> None:
    """Bring the schema to ``revision``; blocking, so the store runs it in a thread.
    Nothing is done (and Alembic not imported) when the database is at the head already."""

    def step(config: Config) -> None:
        from alembic import command

        command.upgrade(config, revision)

    _run(urls, step, skip_at_head=revision == "head")


def downgrade(urls: DatabaseURLs, revision: str) -> None:
    def step(config: Config) -> None:
        from alembic import command

        command.downgrade(config, revision)

    _run(urls, step, skip_at_head=False)


def _run(urls: DatabaseURLs, step: Callable[[Config], None], *, skip_at_head: bool) -> None:
    engine = migration_engine(urls)
    try:
        with _ALEMBIC, engine.begin() as connection:
            # Read outside PostgreSQL's migration lock (env.py): a database already at the
            # head stays there, and one that is not goes on to Alembic, which takes the
            # lock and reads the revision again.
            if skip_at_head and stored_revisions(connection) == head_revisions():
                return
            _alembic(step, alembic_config(connection))
    finally:
        engine.dispose()


def _alembic(step: Callable[[Config], None], config: Config) -> None:
    from alembic.util import CommandError

    try:
        step(config)
    except CommandError as exc:
        raise MigrationFailed(str(exc)) from None
