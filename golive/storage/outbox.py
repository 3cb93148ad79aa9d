"""The outbox: the messages of claimed notifications, kept from before their first post
until Slack has them (see :class:`~golive.storage.models.OutboxRow`).

Rows are taken with a lease by a conditional update, so of two processes resuming the
same row (a paused leader and its successor) only one posts it at a time.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update

from .base import StoreBase
from .entries import OutboxEntry
from .models import OutboxRow

#: The version of the ``message`` document.
MESSAGE_VERSION = 1


def _entry(row: OutboxRow) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        release_id=row.release_id,
        claim=row.claim,
        part=row.part,
        token=row.token,
        channel=row.channel,
        text=str(row.message.get("text", "")),
        blocks=list(row.message.get("blocks") or []),
        created_at=row.created_at,
        attempts=row.attempts,
        posted_ts=row.posted_ts,
        leased_by=row.leased_by,
    )


class OutboxStore(StoreBase):
    async def add_outbox(
        self,
        release_id: int,
        claim: str,
        channel: str,
        messages: Sequence[tuple[str, list[dict[str, Any]]]],
        *,
        at: datetime,
        lease: timedelta,
    ) -> list[OutboxEntry]:
        """Keep the messages ``(text, blocks)`` of the notification claimed as ``claim``,
        leased to the caller, who posts them now."""
        rows = [
            OutboxRow(
                release_id=release_id,
                claim=claim,
                part=part,
                token=secrets.token_hex(12),
                channel=channel,
                message={"version": MESSAGE_VERSION, "text": text, "blocks": blocks},
                created_at=at,
                attempts=0,
                leased_by=secrets.token_hex(8),
                leased_until=at + lease,
            )
            for part, (text, blocks) in enumerate(messages)
        ]
        async with self._transaction() as session:
            session.add_all(rows)
            await session.flush()
            return [_entry(row) for row in rows]

    async def pending_outbox(self, release_id: int) -> list[OutboxEntry]:
        """The release's messages not yet known to be posted, oldest first."""
        query = (
            select(OutboxRow)
            .where(OutboxRow.release_id == release_id, OutboxRow.posted_ts.is_(None))
            .order_by(OutboxRow.id)
        )
        async with self._transaction() as session:
            return [_entry(row) for row in (await session.scalars(query)).all()]

    async def take_outbox(self, entry_id: int, *, now: datetime, lease: timedelta) -> OutboxEntry | None:
        """Lease a pending message to the caller; None when it is posted or another
        process holds it."""
        take = (
            update(OutboxRow)
            .where(
                OutboxRow.id == entry_id,
                OutboxRow.posted_ts.is_(None),
                or_(OutboxRow.leased_until.is_(None), OutboxRow.leased_until <= now),
            )
            .values(leased_by=secrets.token_hex(8), leased_until=now + lease)
            .returning(OutboxRow)
        )
        async with self._transaction() as session:
            row = (await session.scalars(take)).first()
            return None if row is None else _entry(row)

    async def outbox_attempted(self, entry: OutboxEntry, *, now: datetime, lease: timedelta) -> bool:
        """Record, before the request goes out, that a post of the message is sent, and
        renew the caller's lease for it. False when the caller no longer holds the row
        (its lease ended and another process took it, or it is posted): then it must not
        post."""
        attempt = (
            update(OutboxRow)
            .where(
                OutboxRow.id == entry.id,
                OutboxRow.leased_by == entry.leased_by,
                OutboxRow.posted_ts.is_(None),
            )
            .values(attempts=OutboxRow.attempts + 1, leased_until=now + lease)
            .returning(OutboxRow.id)
        )
        async with self._transaction() as session:
            return (await session.scalar(attempt)) is not None

    async def outbox_posted(self, entry_id: int, ts: str) -> None:
        done = (
            update(OutboxRow)
            .where(OutboxRow.id == entry_id)
            .values(posted_ts=ts, leased_by=None, leased_until=None)
        )
        async with self._transaction() as session:
            await session.execute(done)

    async def outbox_unlease(self, entry: OutboxEntry) -> None:
        """Leave a pending message the caller holds to whoever resumes the outbox next."""
        free = (
            update(OutboxRow)
            .where(OutboxRow.id == entry.id, OutboxRow.leased_by == entry.leased_by)
            .values(leased_by=None, leased_until=None)
        )
        async with self._transaction() as session:
            await session.execute(free)

    async def drop_outbox(self, entry_ids: Sequence[int]) -> None:
        """Forget messages Slack certainly did not post (their claims are released)."""
        async with self._transaction() as session:
            await session.execute(delete(OutboxRow).where(OutboxRow.id.in_(list(entry_ids))))
