"""A read-only snapshot of a release for `golive status` and `golive report`.

Those two commands only read, once, and exit; through the :class:`~.store.Store` they
would first import SQLAlchemy's asynchronous ORM, which takes longer than all the rest
of the command. A snapshot reads the same rows with plain SQL through the database's own
blocking driver (sqlite3 for SQLite, psycopg for PostgreSQL), inside one read
transaction, and hands them to the same decoding as the Store (:mod:`.rows`), so the
state computed from it is the Store's.

It answers only where it can answer exactly as the Store would, and otherwise says so:
:func:`open_snapshot` returns None for a URL it does not read plainly, a database that
does not exist yet or is not at the newest schema revision (the Store creates or
migrates it), and a read raises :class:`NotInSnapshot` for a release not recorded yet
(the Store records it) or a database error (the Store reports it in its words). The
caller then asks the Store.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

from golive.checks.results import Records

from .entries import Note, Observation, RunInfo
from .locations import chosen_url
from .revisions import head_revisions
from .rows import item_result, note, records, run_info
from .times import stored_utc

#: Seconds a read waits for a writer holding SQLite's lock, as the Store's engine does.
SQLITE_BUSY_TIMEOUT = 30
#: Seconds to reach a PostgreSQL server. Short: a server that does not answer is left to
#: the Store, which waits its own timeout (the URL's, else 10 s) and says why.
POSTGRES_CONNECT_TIMEOUT = 3

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///", "sqlite+aiosqlite:///")
_POSTGRES_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg_async://")

#: Column names are quoted where either database reserves the word ("trigger" in SQLite,
#: "user" in PostgreSQL), as SQLAlchemy quotes them for the Store.
_RUN = (
    'id, release_id, started_at, finished_at, status, "trigger", phase, checklist_digest, verdict, '
    "fingerprint, owner, slot_at, message_channel, message_ts"
)
_RESULT = (
    "id, run_id, release_id, item_id, phase, status, raw_status, message, raw_message, duration_ms, "
    "checked_at, observed, evidence, conditions, phrase"
)
_SIGNOFF = (
    'id, release_id, role, "user", signed_at, run_id, approved, fingerprint, revoked_at, revoked_by, '
    "invalidated_at, invalidated_reason"
)
#: Columns whose values are times, and those holding JSON documents (SQLite keeps both as
#: text; psycopg decodes them itself).
_TIMES = frozenset(
    {
        "started_at",
        "finished_at",
        "slot_at",
        "checked_at",
        "signed_at",
        "revoked_at",
        "invalidated_at",
        "confirmed_at",
        "created_at",
        "expires_at",
    }
)
_DOCUMENTS = frozenset({"observed", "evidence", "conditions", "phrase", "approved"})

#: The newest result of each item: the Store's query (see ``runs._latest_per_item``), one
#: index seek per item rather than a scan of every result of the release.
_LATEST_PER_ITEM = f"""
WITH RECURSIVE items(item_id) AS (
    SELECT min(first.item_id) FROM results AS first WHERE first.release_id = :release_id
    UNION ALL
    SELECT (SELECT min(hop.item_id) FROM results AS hop
            WHERE hop.release_id = :release_id AND hop.item_id > items.item_id)
    FROM items WHERE items.item_id IS NOT NULL
)
SELECT {_RESULT} FROM results WHERE results.id IN (
    SELECT (SELECT latest.id FROM results AS latest
            WHERE latest.release_id = :release_id AND latest.item_id = items.item_id
            ORDER BY latest.checked_at DESC, latest.id DESC LIMIT 1)
    FROM items WHERE items.item_id IS NOT NULL
)
"""  # noqa: S608 (constant column names; values are bound)


class NotInSnapshot(Exception):
    """The snapshot cannot answer as the Store would: ask the Store."""


class ReleaseReader(Protocol):
    """What the current state of a release is read from: a :class:`~.store.Store`, or a
    :class:`Snapshot` of it."""

    async def release_id(self, name: str, version: str) -> int: ...

    async def release_of(self, release_id: int) -> tuple[str, str] | None: ...

    async def newest_run(self) -> RunInfo | None: ...

    async def run(self, run_id: int) -> RunInfo | None: ...

    async def latest_run(self, release_id: int) -> RunInfo | None: ...

    async def checklist_content(self, digest: str) -> str | None: ...

    async def records(self, release_id: int) -> Records: ...

    async def latest_observations(self, release_id: int) -> dict[str, Observation]: ...

    async def notes(self, release_id: int) -> list[Note]: ...


class Snapshot:
    """The rows of one read transaction; a :class:`ReleaseReader`. Its methods are
    coroutines only to share the Store's signatures: each runs its query at once."""

    def __init__(
        self,
        connection: Any,
        *,
        text_values: bool,
        placeholder: Callable[[str], str],
        errors: tuple[type[Exception], ...],
    ) -> None:
        self._connection = connection
        #: The driver's errors: any of them, and the Store is asked instead.
        self._errors = errors
        #: SQLite hands times and JSON back as text; psycopg as Python values.
        self._text_values = text_values
        self._placeholder = placeholder

    async def release_id(self, name: str, version: str) -> int:
        found = self._one(
            "SELECT id FROM releases WHERE name = :name AND version = :version", name=name, version=version
        )
        if found is None:
            raise NotInSnapshot(f"release {name} {version} is not recorded yet")
        return int(found.id)

    async def release_of(self, release_id: int) -> tuple[str, str] | None:
        found = self._one("SELECT name, version FROM releases WHERE id = :id", id=release_id)
        return None if found is None else (found.name, found.version)

    async def newest_run(self) -> RunInfo | None:
        found = self._one(f"SELECT {_RUN} FROM runs ORDER BY id DESC LIMIT 1")  # noqa: S608 (as above)
        return None if found is None else run_info(found)

    async def run(self, run_id: int) -> RunInfo | None:
        found = self._one(f"SELECT {_RUN} FROM runs WHERE id = :id", id=run_id)  # noqa: S608 (as above)
        return None if found is None else run_info(found)

    async def latest_run(self, release_id: int) -> RunInfo | None:
        query = f"SELECT {_RUN} FROM runs WHERE release_id = :id ORDER BY started_at DESC, id DESC LIMIT 1"  # noqa: S608
        found = self._one(query, id=release_id)
        return None if found is None else run_info(found)

    async def checklist_content(self, digest: str) -> str | None:
        found = self._one("SELECT content FROM checklists WHERE digest = :digest", digest=digest)
        return None if found is None else str(found.content)

    async def records(self, release_id: int) -> Records:
        confirmations = self._all(
            'SELECT item_id, "user", confirmed_at, evidence_url, comment FROM confirmations '
            "WHERE release_id = :id AND revoked_at IS NULL ORDER BY confirmed_at, id",
            id=release_id,
        )
        waivers = self._all(
            "SELECT item_id, reason, created_by, created_at, expires_at FROM waivers "
            "WHERE release_id = :id AND revoked_at IS NULL ORDER BY created_at, id",
            id=release_id,
        )
        signoffs = self._all(
            f"SELECT {_SIGNOFF} FROM signoffs WHERE release_id = :id ORDER BY signed_at DESC, id DESC",  # noqa: S608
            id=release_id,
        )
        return records(confirmations, waivers, signoffs)

    async def latest_observations(self, release_id: int) -> dict[str, Observation]:
        rows = self._all(_LATEST_PER_ITEM, release_id=release_id)
        return {
            row.item_id: Observation(row.run_id, item_result(row))
            for row in sorted(rows, key=lambda r: (r.checked_at, r.id))
        }

    async def notes(self, release_id: int) -> list[Note]:
        query = (
            "SELECT id, author, text, created_at FROM notes WHERE release_id = :id ORDER BY created_at, id"
        )
        return [note(row) for row in self._all(query, id=release_id)]

    def close(self) -> None:
        try:
            self._connection.rollback()  # a read transaction: nothing to keep
        finally:
            self._connection.close()

    def revisions(self) -> frozenset[str]:
        return frozenset(str(row.version_num) for row in self._all("SELECT version_num FROM alembic_version"))

    def _one(self, query: str, **parameters: Any) -> SimpleNamespace | None:
        found = self._all(query, **parameters)
        return found[0] if found else None

    def _all(self, query: str, **parameters: Any) -> list[SimpleNamespace]:
        try:
            cursor = self._connection.execute(self._placeholder(query), parameters)
            names = [column[0] for column in cursor.description]
            return [self._row(names, values) for values in cursor.fetchall()]
        except self._errors as error:
            raise NotInSnapshot(f"the database answered: {type(error).__name__}") from None

    def _row(self, names: Sequence[str], values: Iterable[Any]) -> SimpleNamespace:
        return SimpleNamespace(
            **{name: self._value(name, value) for name, value in zip(names, values, strict=True)}
        )

    def _value(self, name: str, value: Any) -> Any:
        """A column's value as the Store's models give it."""
        if value is None:
            return None
        if name in _TIMES:
            return stored_utc(datetime.fromisoformat(value) if self._text_values else value)
        if name in _DOCUMENTS and self._text_values:
            return json.loads(value)
        return value


def open_snapshot(url: str | None = None) -> Snapshot | None:
    """A snapshot of the database ``url`` names (else ``$GOLIVE_DB_URL``, else the
    default), or None where only the Store can answer as it should."""
    text = chosen_url(url)
    snapshot = _sqlite(text) if text.startswith(_SQLITE_PREFIXES) else _postgres(text)
    if snapshot is None:
        return None
    try:
        current = snapshot.revisions() == head_revisions()
    except NotInSnapshot:
        current = False  # no revision table: a database the Store has not set up
    if not current:
        snapshot.close()
        return None
    return snapshot


def _sqlite(url: str) -> Snapshot | None:
    database = url.split(":///", 1)[1]
    # What SQLAlchemy would decode or read as options (percent escapes, a query) is left
    # to the Store, as is a database that does not exist yet (it creates it).
    if not database or "?" in database or "%" in database or database == ":memory:":
        return None
    path = Path(database).expanduser().absolute()
    if not path.is_file():
        return None
    try:
        # Opened for writing, never written: read-only, SQLite could not remove the
        # write-ahead files it makes for the read when the last connection closes, and
        # would leave two files beside the database. mode=rw creates no database, and
        # query_only refuses any write through this connection.
        connection = sqlite3.connect(
            f"{path.as_uri()}?mode=rw", uri=True, timeout=SQLITE_BUSY_TIMEOUT, isolation_level=None
        )
        connection.execute("PRAGMA query_only = ON")
        # One read transaction: every query sees the database as of the first one, even
        # while a run stores results beside it.
        connection.execute("BEGIN")
    except sqlite3.Error:
        return None
    return Snapshot(connection, text_values=True, placeholder=lambda query: query, errors=(sqlite3.Error,))


def _postgres(url: str) -> Snapshot | None:
    if not url.startswith(_POSTGRES_PREFIXES):
        return None
    import psycopg  # only for PostgreSQL; as blocking as the question is

    conninfo = "postgresql://" + url.split("://", 1)[1]
    try:
        connection = psycopg.connect(conninfo, autocommit=False, connect_timeout=POSTGRES_CONNECT_TIMEOUT)
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    except (psycopg.Error, ValueError):
        return None  # the Store says why, without the password
    return Snapshot(connection, text_values=False, placeholder=_pyformat, errors=(psycopg.Error,))


def _pyformat(query: str) -> str:
    """``:name`` placeholders as psycopg's ``%(name)s``."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", query)
