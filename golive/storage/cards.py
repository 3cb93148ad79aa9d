"""Where the sign-off cards were posted: each is edited when a sign-off changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .base import StoreBase
from .models import SignoffCardRow

#: Cards edited on a change, newest first: older ones scrolled away long ago, and each
#: edit is a Slack call.
CARDS_KEPT_CURRENT = 20


class CardStore(StoreBase):
    async def add_signoff_card(self, release_id: int, *, channel: str, ts: str, at: datetime) -> None:
        """Remember a card posted at ``channel``/``ts`` (once, however often it is told)."""
        insert = (
            self._insert(SignoffCardRow)
            .values(release_id=release_id, channel=channel, ts=ts, posted_at=at)
            .on_conflict_do_nothing(index_elements=["channel", "ts"])
        )
        async with self._transaction() as session:
            await session.execute(insert)

    async def signoff_cards(self, release_id: int, limit: int = CARDS_KEPT_CURRENT) -> list[tuple[str, str]]:
        """The release's cards as (channel, ts), newest first."""
        query = (
            select(SignoffCardRow.channel, SignoffCardRow.ts)
            .where(SignoffCardRow.release_id == release_id)
            .order_by(SignoffCardRow.id.desc())
            .limit(limit)
        )
        async with self._transaction() as session:
            return [(row.channel, row.ts) for row in await session.execute(query)]
