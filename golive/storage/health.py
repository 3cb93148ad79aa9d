"""Is the database usable right now? For readiness probes, which must be cheap."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from .base import StoreBase
from .engine import describe_failure
from .errors import StorageError
from .models import RunRow


class HealthStore(StoreBase):
    async def ping(self) -> None:
        """Return if the database answers a query on golive's tables; ``StorageError`` if not.

        The query reads one row of a golive table through the app's pool (PostgreSQL
        checks a pooled connection before use), so an unreachable server, a database
        without golive's schema and a locked-up SQLite file all fail it.
        """
        if self._urls.backend == "sqlite":
            # Pooled connections keep working on a file deleted underneath them, and what
            # they write is gone at the next start: the file itself must still be there.
            path = Path(self._urls.app.database or "")
            if not await asyncio.to_thread(path.is_file):
                raise StorageError(f"database {self.url} failed: the file is gone")
        try:
            async with self._transaction() as session:
                await session.execute(select(RunRow.id).limit(1))
        except DBAPIError as error:  # e.g. PostgreSQL without golive's tables
            reason = describe_failure(error, self._urls.app)
            raise StorageError(f"database {self.url} failed: {reason}") from None
