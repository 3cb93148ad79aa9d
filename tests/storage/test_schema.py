"""The migrations are the schema: they build exactly what the models declare."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, create_engine, inspect, text
from sqlalchemy.pool import NullPool

from golive.storage import Store, migrate, revisions
from golive.storage.migrate import POSTGRES_LOCK
from golive.storage.models import Base
from golive.storage.urls import resolve

from .conftest import Backend
from .helpers import T0

TABLES = {
    "alert_state",
    "audit_log",
    "checklists",
    "confirmations",
    "notes",
    "notifications",
    "releases",
    "outbox",
    "chart_points",
    "pending_deployments",
    "leases",
    "results",
    "runs",
    "schedule_state",
    "signoffs",
    "signoff_cards",
    "waivers",
}


def differences(connection: Connection, metadata: MetaData = Base.metadata) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_build_exactly_the_models(store: Store) -> None:
    async with store.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
        # The comparison does look at the database: against no models, every table
        # the migration made shows up as one to remove.
        removed = await connection.run_sync(differences, MetaData())
    assert {diff[1].name for diff in removed if diff[0] == "remove_table"} == TABLES


async def test_opening_again_migrates_nothing_and_keeps_data(backend: Backend) -> None:
    async with await Store.open(backend.url) as store:
        release = await store.release_id("r", "1")
        await store.add_note(release, author="U-bob", text="kept", at=T0)
    async with await Store.open(backend.url) as store:
        assert [n.text for n in await store.notes(release)] == ["kept"]


async def test_replicas_opening_at_once_migrate_once(backend: Backend) -> None:
    stores = await asyncio.gather(*(Store.open(backend.url) for _ in range(3)))
    try:
        async with stores[0].engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        for store in stores:
            await store.close()


async def test_downgrade_removes_everything_and_upgrade_restores_it(backend: Backend) -> None:
    urls = resolve(backend.url)
    async with await Store.open(backend.url) as store:
        await asyncio.to_thread(migrate.downgrade, urls, "base")
        async with store.engine.connect() as connection:
            left = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert left & TABLES == set()

        await asyncio.to_thread(migrate.upgrade, urls)
        async with store.engine.connect() as connection:
            assert await connection.run_sync(differences) == []
        # The append-only triggers came back with the table.
        await store.audit(actor="a", action="b", subject="c", details={}, at=T0)


async def test_open_waits_for_another_process_migrating(backend: Backend) -> None:
    """Replicas start together. While another process holds the migration lock (the
    advisory lock on PostgreSQL, the write lock on SQLite), open() waits without reading
    or creating anything; then it finds the schema as that process left it."""
    urls = resolve(backend.url)
    other = create_engine(urls.migrations, poolclass=NullPool)
    try:
        with other.connect() as connection:
            if backend.postgres is not None:
                connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": POSTGRES_LOCK})
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            opening = asyncio.ensure_future(Store.open(backend.url))
            await asyncio.sleep(0.5)
            assert not opening.done()
            assert not set(inspect(connection).get_table_names()) & TABLES
            if backend.postgres is not None:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": POSTGRES_LOCK})
            else:
                connection.rollback()
            store = await asyncio.wait_for(opening, timeout=30)
        await store.close()
    finally:
        other.dispose()


def test_the_head_read_from_the_revision_files_is_alembic_s() -> None:
    """Opening a database skips Alembic when it is at the head that golive reads from
    the revision files itself; that head must be the one Alembic would migrate to."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert revisions.head_revisions() == frozenset(script.get_heads())


async def test_a_database_behind_the_head_is_migrated_on_open(backend: Backend) -> None:
    urls = resolve(backend.url)
    async with await Store.open(backend.url):
        await asyncio.to_thread(migrate.downgrade, urls, "0006")
    async with await Store.open(backend.url) as store, store.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
        assert await connection.run_sync(migrate.stored_revisions) == revisions.head_revisions()
