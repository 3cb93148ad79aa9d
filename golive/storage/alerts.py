"""golive's own bookkeeping for what it tells the channel: where each item stands for
regression alerts, and which one-time notifications have gone out. Not audited: no
person changes these."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from golive.checks.status import Status

from .base import StoreBase
from .codec import decode_details, encode_details
from .entries import AlertState
from .models import AlertStateRow, NotificationRow


class AlertStore(StoreBase):
    async def alert_state(self, release_id: int, item_id: str) -> AlertState | None:
        async with self._transaction() as session:
            row = await session.get(AlertStateRow, (release_id, item_id))
        if row is None:
            return None
        return AlertState(
            item_id=row.item_id,
            state=row.state,
            since=row.since,
            last_notified_at=row.last_notified_at,
            last_status=None if row.last_status is None else Status(row.last_status),
            details=decode_details(row.details),
        )

    async def set_alert_state(self, release_id: int, state: AlertState) -> None:
        values = {
            "state": state.state,
            "since": state.since,
            "last_notified_at": state.last_notified_at,
            "last_status": None if state.last_status is None else str(state.last_status),
            "details": encode_details(state.details),
        }
        upsert = (
            self._insert(AlertStateRow)
            .values(release_id=release_id, item_id=state.item_id, **values)
            .on_conflict_do_update(index_elements=["release_id", "item_id"], set_=values)
        )
        async with self._transaction() as session:
            await session.execute(upsert)

    async def claim_notification(self, release_id: int, key: str, *, at: datetime) -> bool:
        """True for exactly one caller per (release, key), whichever process or run asks
        first: the one that should post. The primary key decides, atomically."""
        claim = (
            self._insert(NotificationRow)
            .values(release_id=release_id, key=key, claimed_at=at)
            .on_conflict_do_nothing(index_elements=["release_id", "key"])
            .returning(NotificationRow.key)
        )
        async with self._transaction() as session:
            return (await session.scalar(claim)) is not None

    async def count_notifications(self, release_id: int, prefix: str) -> int:
        """How many notifications of the release were claimed with keys starting so."""
        query = select(func.count()).where(
            NotificationRow.release_id == release_id,
            NotificationRow.key.startswith(prefix, autoescape=True),
        )
        async with self._transaction() as session:
            return int(await session.scalar(query) or 0)

    async def release_notification(self, release_id: int, key: str) -> bool:
        """Undo a claim whose post certainly failed, so that it is posted later; True when
        there was one."""
        release = delete(NotificationRow).where(
            NotificationRow.release_id == release_id, NotificationRow.key == key
        )
        async with self._transaction() as session:
            return bool((await session.execute(release)).rowcount)  # type: ignore[attr-defined]
