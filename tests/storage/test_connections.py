"""Which database, through which driver; failures that never show the password; and a
store that outlives its server dropping connections."""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import pytest

from golive.storage import StorageError, Store
from golive.storage.urls import resolve
from tests.services import free_port

from .conftest import Backend
from .helpers import T0, server_connections

PASSWORD = "s3cr3t-Pa55"


def test_default_is_a_sqlite_file_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GOLIVE_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    urls = resolve()
    assert urls.app.drivername == "sqlite+aiosqlite"
    assert urls.migrations.drivername == "sqlite+pysqlite"
    assert urls.app.database == urls.migrations.database == str(tmp_path / "golive.db")


def test_environment_variable_is_used_unless_a_url_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOLIVE_DB_URL", f"postgresql://golive:{PASSWORD}@db.internal/golive")
    assert resolve().app.host == "db.internal"
    assert resolve(f"sqlite:///{tmp_path}/x.db").backend == "sqlite"


@pytest.mark.parametrize(
    "given",
    [
        f"postgresql://golive:{PASSWORD}@db:5433/golive",
        f"postgres://golive:{PASSWORD}@db:5433/golive",
        f"postgresql+psycopg://golive:{PASSWORD}@db:5433/golive",
    ],
)
def test_postgres_urls_use_psycopg_and_hide_the_password(given: str) -> None:
    urls = resolve(given)
    assert urls.app.drivername == urls.migrations.drivername == "postgresql+psycopg"
    assert (urls.app.host, urls.app.port, urls.app.database) == ("db", 5433, "golive")
    assert urls.app.password == PASSWORD
    assert urls.display() == "postgresql://golive:***@db:5433/golive"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (f"mysql://root:{PASSWORD}@db/golive", "unsupported database mysql://root:***@db"),
        (f"postgresql+asyncpg://u:{PASSWORD}@db/golive", "unsupported database"),
        ("sqlite://", "in-memory SQLite cannot be used"),
        ("sqlite:///:memory:", "in-memory SQLite cannot be used"),
        (f"not a url {PASSWORD}", "is not a URL"),
    ],
)
def test_urls_golive_cannot_use_are_refused_clearly(given: str, expected: str) -> None:
    with pytest.raises(StorageError, match=re.escape(expected)) as raised:
        resolve(given)
    assert PASSWORD not in str(raised.value)


async def test_unreachable_postgres_is_a_storage_error_without_the_password() -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://golive:{PASSWORD}@127.0.0.1:{port}/golive"
    with pytest.raises(StorageError) as raised:
        await Store.open(url)
    message = str(raised.value)
    assert f"golive:***@127.0.0.1:{port}/golive" in message
    assert "cannot open the database" in message
    assert PASSWORD not in "".join(traceback.format_exception(raised.value))


async def test_sqlite_in_a_missing_directory_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "golive.db"
    with pytest.raises(StorageError, match=f"cannot open the database .*{re.escape(str(path))}"):
        await Store.open(f"sqlite:///{path}")
    assert not path.parent.exists()


async def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "golive.db"
    path.write_text("these are notes, not a database\n" * 100)
    with pytest.raises(StorageError, match="not a database"):
        await Store.open(f"sqlite:///{path}")


async def test_store_reconnects_after_the_server_dropped_its_connections(
    store: Store, backend: Backend
) -> None:
    if backend.postgres is None:
        pytest.skip("only a server drops connections; SQLite has none to drop")
    release = await store.release_id("r", "1")
    database = backend.postgres
    with database.server.connect() as admin:  # as a restart or failover would
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database.name,),
        )
    assert server_connections(database) == 0
    await store.add_note(release, author="U-bob", text="still recorded", at=T0)
    assert [n.text for n in await store.notes(release)] == ["still recorded"]
