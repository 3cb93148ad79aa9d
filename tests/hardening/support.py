"""What the hardening tests share: every stored row, read generically, and captured logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, func, select
from sqlalchemy.engine import Connection

from golive.storage import Store

#: Where the bot's own posts are (a sign-off card any reader may ask for): bookkeeping of
#: what was posted, not something a person decided or changed.
POSTED = {"signoff_cards"}


async def all_rows(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table in the database but :data:`POSTED` (reflected, so tables
    the models do not know about, like Alembic's, are read too)."""

    def read(connection: Connection) -> dict[str, list[dict[str, Any]]]:
        metadata = MetaData()
        metadata.reflect(connection)
        return {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in metadata.sorted_tables
            if table.name not in POSTED
        }

    async with store.engine.connect() as connection:
        return await connection.run_sync(read)


async def row_counts(store: Store) -> dict[str, int]:
    """Rows per table but :data:`POSTED`; the tables are reflected once per database."""

    def count(connection: Connection) -> dict[str, int]:
        metadata = _reflected.get(store.url)
        if metadata is None:
            metadata = _reflected[store.url] = MetaData()
            metadata.reflect(connection)
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
            if table.name not in POSTED
        }

    async with store.engine.connect() as connection:
        return await connection.run_sync(count)


_reflected: dict[str, MetaData] = {}


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        """Every record as a handler with tracebacks would write it."""
        formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
        return "\n".join(formatter.format(record) for record in self.records)

    def errors(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= logging.ERROR]


@contextmanager
def captured_logs() -> Iterator[Captured]:
    """Every log record of the process, at every level, while the block runs."""
    handler = Captured()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
