"""One contract suite, every backend: each test taking ``store`` runs on SQLite (a file
in tmp_path) and on a real PostgreSQL (a fresh database on the session's server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.pool import QueuePool

from golive.storage import Store
from tests.services.postgres import PostgresDatabase

from .helpers import server_connections


@dataclass(frozen=True)
class Backend:
    name: str
    url: str
    postgres: PostgresDatabase | None = None


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'golive.db'}")
    database: PostgresDatabase = request.getfixturevalue("postgres_database")
    return Backend("postgresql", database.url, database)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    store = await Store.open(backend.url)
    yield store
    pool = store.engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedout() == 0, "a store method kept a connection checked out"
    await store.close()
    if backend.postgres is not None:
        assert server_connections(backend.postgres) == 0, "close() left connections open"


