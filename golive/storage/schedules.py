"""The schedule's state: paused or running (a person's doing, so audited), and the last
slot it ran (golive's own bookkeeping, not audited)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from .base import StoreBase
from .entries import ScheduleState
from .models import ScheduleStateRow


class ScheduleStore(StoreBase):
    async def schedule_state(self, release_id: int) -> ScheduleState:
        """The stored state; a release whose schedule nobody touched runs, unpaused."""
        async with self._transaction() as session:
            row = await session.get(ScheduleStateRow, release_id)
        if row is None:
            return ScheduleState()
        return ScheduleState(
            paused=row.paused,
            changed_by=row.changed_by,
            changed_at=row.changed_at,
            last_slot_at=row.last_slot_at,
            last_run_id=row.last_run_id,
        )

    async def set_schedule_paused(self, release_id: int, paused: bool, *, by: str, at: datetime) -> bool:
        """Pause or resume; False, and nothing written, when it already was so. The
        condition is part of the write, so two clicks cannot both report a change."""
        values = {"paused": paused, "changed_by": by, "changed_at": at}
        change: ReturningInsert[tuple[int]] | ReturningUpdate[tuple[int]]
        if paused:
            change = (
                self._insert(ScheduleStateRow)
                .values(release_id=release_id, **values)
                .on_conflict_do_update(
                    index_elements=["release_id"], set_=values, where=ScheduleStateRow.paused.is_(False)
                )
                .returning(ScheduleStateRow.release_id)
            )
        else:
            # Nothing stored means never paused: resuming changes nothing.
            change = (
                update(ScheduleStateRow)
                .where(ScheduleStateRow.release_id == release_id, ScheduleStateRow.paused.is_(True))
                .values(**values)
                .returning(ScheduleStateRow.release_id)
            )
        async with self._transaction() as session:
            label = await self._release_label(session, release_id)
            changed = (await session.scalar(change)) is not None
            if changed:
                self._audit(
                    session,
                    actor=by,
                    action="schedule.pause" if paused else "schedule.resume",
                    subject=label,
                    details={"release_id": release_id},
                    at=at,
                )
        return changed

    async def claim_schedule_slot(self, release_id: int, slot: datetime) -> bool:
        """True for exactly one caller per slot, and only for a slot later than every slot
        claimed before: a slot runs once, whichever process or restart asks, and a slot
        older than the last one run (a backlog) never runs."""
        claim = (
            self._insert(ScheduleStateRow)
            .values(release_id=release_id, paused=False, last_slot_at=slot)
            .on_conflict_do_update(
                index_elements=["release_id"],
                set_={"last_slot_at": slot},
                where=or_(ScheduleStateRow.last_slot_at.is_(None), ScheduleStateRow.last_slot_at < slot),
            )
            .returning(ScheduleStateRow.release_id)
        )
        async with self._transaction() as session:
            return (await session.scalar(claim)) is not None

    async def set_schedule_run(self, release_id: int, run_id: int) -> None:
        """Remember the run a claimed slot started, for ``/golive schedule``."""
        change = (
            update(ScheduleStateRow)
            .where(ScheduleStateRow.release_id == release_id)
            .values(last_run_id=run_id)
        )
        async with self._transaction() as session:
            await session.execute(change)
