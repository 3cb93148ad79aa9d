"""Database URLs: which database, through which driver, shown without the password.

Operators write ``sqlite:///golive.db``, ``postgresql://…`` or Heroku-style
``postgres://…``; the app needs the asyncio drivers (aiosqlite, psycopg's async mode) and
Alembic the blocking ones (sqlite3, psycopg). Only these two databases are supported,
so any other driver is refused at open with a clear message rather than failing later.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ..checks.redaction import URL_MASK
from ..checks.secret_names import is_secret_parameter
from .errors import StorageError
from .locations import chosen_url

_SQLITE = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}
_POSTGRES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg_async"}


@dataclass(frozen=True)
class DatabaseURLs:
    #: For the app's AsyncEngine.
    app: URL
    #: For Alembic, which runs blocking in a worker thread.
    migrations: URL

    @property
    def backend(self) -> str:
        return self.app.get_backend_name()

    def display(self) -> str:
        """The database without the password and the driver: safe for logs and errors."""
        return safe(self.migrations)


def safe(url: URL) -> str:
    """The URL as ``postgresql://golive:***@db/golive``: no driver, no password, whether
    in the userinfo or in the query (``?password=…``, which libpq accepts too)."""
    query = {name: (URL_MASK if is_secret_parameter(name) else value) for name, value in url.query.items()}
    shown = url.set(drivername=url.get_backend_name(), query=query)
    return shown.render_as_string(hide_password=True)


def passwords(url: URL) -> list[str]:
    """The URL's password, in the userinfo or as ``?password=`` (libpq takes either)."""
    found = [str(url.password)] if url.password else []
    for name, value in url.query.items():
        if is_secret_parameter(name):
            found.extend(v for v in ((value,) if isinstance(value, str) else value) if v)
    return found


def resolve(url: str | None = None) -> DatabaseURLs:
    """The explicit URL, else ``$GOLIVE_DB_URL``, else a SQLite file in the working dir."""
    text = chosen_url(url)
    try:
        parsed = make_url(text)
    except ArgumentError:
        # The text itself is not echoed: an unparseable DSN may still hold a password.
        raise StorageError(
            "the database URL is not a URL; expected sqlite:///path/to/golive.db "
            "or postgresql://user:password@host:5432/dbname"
        ) from None
    if parsed.drivername in _SQLITE:
        return _sqlite(parsed)
    if parsed.drivername in _POSTGRES:
        postgres = parsed.set(drivername="postgresql+psycopg")
        # psycopg picks its async or blocking mode from the engine that uses the URL.
        return DatabaseURLs(app=postgres, migrations=postgres)
    raise StorageError(
        f"unsupported database {safe(parsed)}: golive stores to SQLite (sqlite:///file) "
        "or PostgreSQL (postgresql://…) through the drivers it ships (aiosqlite, psycopg 3)"
    )


def _sqlite(url: URL) -> DatabaseURLs:
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in str(url.query):
        # Alembic migrates over its own connection; an in-memory database would be a
        # different, empty one for the app.
        raise StorageError("in-memory SQLite cannot be used: give a file, e.g. sqlite:///golive.db")
    # Absolute, so the store keeps using the same file if the process changes directory.
    absolute = str(Path(database).expanduser().absolute())
    return DatabaseURLs(
        app=url.set(drivername="sqlite+aiosqlite", database=absolute),
        migrations=url.set(drivername="sqlite+pysqlite", database=absolute),
    )
