"""What every part of the store shares: the engine, transactions, upserts, the audit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .codec import encode_details
from .engine import describe_failure
from .errors import StorageError
from .models import AuditRow, Base, ReleaseRow
from .urls import DatabaseURLs

#: The actor of changes golive makes on its own (a sign-off invalidated by a regression).
SYSTEM_ACTOR = "golive"


class StoreBase:
    def __init__(self, engine: AsyncEngine, urls: DatabaseURLs) -> None:
        self._engine = engine
        self._urls = urls
        # Rows are turned into plain records before the transaction ends; nothing is
        # lazily loaded afterwards, so expiring them on commit would only cost queries.
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        #: The process's name in leases; the runs it starts carry it as their owner, so
        #: another process can tell a run in flight from one left by a dead process.
        self.holder: str | None = None

    @property
    def engine(self) -> AsyncEngine:
        """The engine, for tests and benchmarks that look underneath the store."""
        return self._engine

    @property
    def url(self) -> str:
        """The database, without its password."""
        return self._urls.display()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            async with self._sessions.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as error:
            # The database went away or is locked: say which one, without the password.
            reason = describe_failure(error, self._urls.app)
            raise StorageError(f"database {self.url} failed: {reason}") from None

    def _insert(self, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
        """INSERT with the dialect's ON CONFLICT: the database settles races, not a
        read-then-write that two replicas (or a double click) could both pass."""
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)

    async def _release_label(self, session: AsyncSession, release_id: int) -> str:
        found = (
            await session.execute(
                select(ReleaseRow.name, ReleaseRow.version).where(ReleaseRow.id == release_id)
            )
        ).first()
        if found is None:
            raise LookupError(f"no release with id {release_id}")
        return f"{found.name} {found.version}"

    @staticmethod
    def _audit(
        session: AsyncSession,
        *,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, Any],
        at: datetime,
    ) -> None:
        """Add an audit entry to the caller's transaction: it commits with the change it
        describes, or neither does."""
        session.add(
            AuditRow(at=at, actor=actor, action=action, subject=subject, details=encode_details(details))
        )
