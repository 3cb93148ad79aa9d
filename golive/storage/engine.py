"""Engines for the app (asyncio) and for migrations (blocking), configured alike."""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..checks.redaction import redact_text
from .urls import DatabaseURLs, passwords

#: Seconds a SQLite writer waits for another to commit before giving up.
SQLITE_BUSY_TIMEOUT = 30
#: Seconds to reach a PostgreSQL server: an unreachable one fails open, not hangs it.
POSTGRES_CONNECT_TIMEOUT = 10


def _dumps(value: Any) -> str:
    # The codec has already replaced NaN and infinities; a leftover one is a bug, and
    # PostgreSQL's json would reject it anyway.
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def _options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"json_serializer": _dumps, "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
    connect_args = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT
    # Several replicas share one server; after it restarts, pooled connections are dead,
    # and the next use should reconnect instead of failing a sign-off click.
    return {"json_serializer": _dumps, "connect_args": connect_args, "pool_pre_ping": True}


def _sqlite_connect(dbapi_connection: Any, _record: Any, *, foreign_keys: bool) -> None:
    # SQLAlchemy emits BEGIN itself (below), not sqlite3's legacy transaction control,
    # which would leave SELECTs and DDL outside the transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    if foreign_keys:
        cursor.execute("PRAGMA foreign_keys = ON")
    # Readers (status, charts) do not block the writer recording a run, and vice versa.
    # Switching needs a moment without other connections and fails at once (no busy
    # wait) if another process holds a lock; WAL is an optimisation, and the mode,
    # once set, is kept in the file, so a later connection finishes the switch.
    with contextlib.suppress(sqlite3.OperationalError):
        cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front: a transaction that reads and then writes
    # (get-or-create, revoke, sign-off + audit) waits its turn under the busy timeout
    # instead of failing with SQLITE_BUSY when another writer committed in between.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    event.listen(engine, "connect", functools.partial(_sqlite_connect, foreign_keys=foreign_keys))
    event.listen(engine, "begin", _sqlite_begin)


def app_engine(urls: DatabaseURLs) -> AsyncEngine:
    engine = create_async_engine(urls.app, **_options(urls.app))
    if urls.backend == "sqlite":
        _configure_sqlite(engine.sync_engine, foreign_keys=True)
    return engine


def migration_engine(urls: DatabaseURLs) -> Engine:
    engine = create_engine(urls.migrations, **_options(urls.migrations))
    if urls.backend == "sqlite":
        # Without foreign key enforcement, as SQLite's ALTER TABLE procedure asks: batch
        # migrations copy and drop tables that others refer to. The pragma cannot change
        # inside the migration's transaction, so it is left off from the start.
        _configure_sqlite(engine, foreign_keys=False)
    return engine


def describe_failure(error: BaseException, url: URL) -> str:
    """The driver's reason for a failure, with the password cut out should it appear."""
    reason = str(error.orig) if isinstance(error, DBAPIError) else str(error)
    reason = reason.strip().splitlines()[0] if reason.strip() else type(error).__name__
    for secret in passwords(url):
        reason = reason.replace(secret, "***")
    return redact_text(reason)

