"""Alembic environment for golive.

The store passes an open connection in ``config.attributes["connection"]``; the alembic
command line (``alembic -c golive/storage/alembic.ini …``) passes none, and then the
database is the one golive would use: ``$GOLIVE_DB_URL`` or ``sqlite:///golive.db``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from golive.storage.engine import migration_engine
from golive.storage.migrate import POSTGRES_LOCK
from golive.storage.models import Base
from golive.storage.urls import resolve


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters tables by copying them; later revisions need batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Replicas starting together migrate one at a time. Taken before Alembic
            # reads the current revision, so the second sees the first one's finished
            # work and has nothing left to do. SQLite needs nothing: the migration
            # transaction begins IMMEDIATE (engine.py), which is the same exclusion.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK})
        context.run_migrations()


def run() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _migrate(given)
        return
    engine = migration_engine(resolve())
    try:
        with engine.begin() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("golive migrations run online only: they need the database's dialect")
run()
