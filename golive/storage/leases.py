"""Leases: who leads the replicas (``golive-leader``), and which processes are alive
(``replica:<holder>``, renewed by each process while it runs).

Times are the database's clock on PostgreSQL (``clock_timestamp()``), so the replicas'
clocks need not agree; on SQLite, which one host serves, the process's clock. A lease is
taken, renewed or left alone by one conditional upsert: of two processes asking at once,
exactly one holds it afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, case, delete, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from .base import StoreBase
from .entries import LeaseState
from .models import LeaseRow, RunRow

T = TypeVar("T")

#: Prefix of the lease each live process renews; runs name their process in ``owner``.
REPLICA_PREFIX = "replica:"


class LeaseStore(StoreBase):
    async def _now(self, session: AsyncSession) -> datetime:
        if self._engine.dialect.name == "postgresql":
            found = await session.scalar(select(func.clock_timestamp()))
            assert isinstance(found, datetime)
            return found.astimezone(UTC)
        return datetime.now(UTC)

    async def acquire_lease(
        self, name: str, holder: str, duration: timedelta, *, now: datetime | None = None
    ) -> LeaseState:
        """Take the lease if it is free or lapsed, renew it if ``holder`` has it; the lease
        as it stands afterwards. ``now`` stands in for the database's clock (tests)."""
        async with self._transaction() as session:
            at = now or await self._now(session)
            take = (
                self._insert(LeaseRow)
                .values(
                    name=name,
                    holder=holder,
                    term=1,
                    acquired_at=at,
                    renewed_at=at,
                    expires_at=at + duration,
                )
                .on_conflict_do_update(
                    index_elements=["name"],
                    set_={
                        "holder": holder,
                        # A new holder starts a new term (and a new acquired_at); a renewal keeps both.
                        "term": _if_same_holder(holder, LeaseRow.term, LeaseRow.term + 1),
                        "acquired_at": _if_same_holder(
                            holder, LeaseRow.acquired_at, literal(at, LeaseRow.acquired_at.type)
                        ),
                        "renewed_at": at,
                        "expires_at": at + duration,
                    },
                    where=or_(LeaseRow.holder == holder, LeaseRow.expires_at <= at),
                )
            )
            await session.execute(take)
            row = await session.get(LeaseRow, name, populate_existing=True)
        assert row is not None
        return LeaseState(holder=row.holder, term=row.term, expires_in=row.expires_at - at)

    async def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up if ``holder`` holds it; True when it did."""
        release = delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder)
        give_up = (
            update(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.holder == holder)
            .values(expires_at=LeaseRow.renewed_at)
            .returning(LeaseRow.name)
        )
        async with self._transaction() as session:
            if name.startswith(REPLICA_PREFIX):
                # A process's own lease ends with it; keeping the row would only pile up.
                return bool((await session.execute(release)).rowcount)  # type: ignore[attr-defined]
            # The leader lease stays, lapsed, so the next holder's term counts on from it.
            return (await session.scalar(give_up)) is not None

    async def lease(self, name: str) -> LeaseState | None:
        """The lease as it stands, without taking part."""
        async with self._transaction() as session:
            at = await self._now(session)
            row = await session.get(LeaseRow, name)
        if row is None:
            return None
        return LeaseState(holder=row.holder, term=row.term, expires_in=row.expires_at - at)

    async def abort_orphaned_runs(self, *, at: datetime, now: datetime | None = None) -> list[int]:
        """Mark aborted the runs left ``running`` by processes that are gone: whose owner's
        replica lease lapsed or was never taken. Their results stay. Runs of live
        processes, this one's and other replicas', are left alone. ``at`` is written as
        the runs' end; ``now`` stands in for the database's clock (tests)."""
        async with self._transaction() as session:
            clock = now or await self._now(session)
            alive = exists().where(
                LeaseRow.name == literal(REPLICA_PREFIX) + RunRow.owner,
                LeaseRow.expires_at > clock,
            )
            orphaned = or_(RunRow.owner.is_(None), ~alive)
            # Read first: the leader asks every few seconds, and almost always finds none;
            # an UPDATE would take SQLite's write lock each time.
            found = (
                await session.scalars(select(RunRow.id).where(RunRow.status == "running", orphaned))
            ).all()
            if not found:
                return []
            change = (
                update(RunRow)
                .where(RunRow.id.in_(found), RunRow.status == "running")
                .values(status="aborted", finished_at=at)
                .returning(RunRow.id)
            )
            return sorted((await session.scalars(change)).all())


def _if_same_holder(
    holder: str, same: ColumnElement[T] | InstrumentedAttribute[T], other: ColumnElement[T]
) -> ColumnElement[T]:
    """In the upsert's SET: ``same`` when the stored holder renews, else ``other``."""
    return case((LeaseRow.holder == holder, same), else_=other)
