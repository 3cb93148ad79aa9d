"""The schedule's state: paused or running (a person's doing, so audited), and the last
slot it ran (golive's own bookkeeping, not audited)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, or_, update
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
            slot_attempt=row.slot_attempt,
            slot_done_at=row.slot_done_at,
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
        older than the last one run (a backlog) never runs. Its first attempt begins."""
        started = {"last_slot_at": slot, "last_run_id": None, "slot_attempt": 1, "slot_done_at": None}
        claim = (
            self._insert(ScheduleStateRow)
            .values(release_id=release_id, paused=False, **started)
            .on_conflict_do_update(
                index_elements=["release_id"],
                set_=started,
                where=or_(ScheduleStateRow.last_slot_at.is_(None), ScheduleStateRow.last_slot_at < slot),
            )
            .returning(ScheduleStateRow.release_id)
        )
        async with self._transaction() as session:
            return (await session.scalar(claim)) is not None

    async def retry_schedule_slot(self, release_id: int, slot: datetime, attempt: int) -> bool:
        """Begin attempt ``attempt + 1`` of the last slot, left unfinished by attempt
        ``attempt`` (its process died). True for exactly one caller: two new leaders, or a
        leader and a restart, cannot both re-run it."""
        retry = (
            update(ScheduleStateRow)
            .where(
                ScheduleStateRow.release_id == release_id,
                ScheduleStateRow.last_slot_at == slot,
                ScheduleStateRow.slot_attempt == attempt,
                ScheduleStateRow.slot_done_at.is_(None),
            )
            .values(slot_attempt=attempt + 1, last_run_id=None)
            .returning(ScheduleStateRow.release_id)
        )
        async with self._transaction() as session:
            return (await session.scalar(retry)) is not None

    async def set_schedule_run(self, release_id: int, run_id: int, *, slot: datetime, attempt: int) -> bool:
        """Remember the run the slot's attempt started; False (nothing written) when that
        attempt was superseded by a retry meanwhile."""
        change = (
            update(ScheduleStateRow)
            .where(*_attempt_is(release_id, slot, attempt))
            .values(last_run_id=run_id)
            .returning(ScheduleStateRow.release_id)
        )
        async with self._transaction() as session:
            return (await session.scalar(change)) is not None

    async def finish_schedule_slot(
        self, release_id: int, *, slot: datetime, attempt: int, at: datetime
    ) -> bool:
        """The slot's run and its notifications are done; False when the attempt was
        superseded (its successor finishes the slot)."""
        change = (
            update(ScheduleStateRow)
            .where(*_attempt_is(release_id, slot, attempt), ScheduleStateRow.slot_done_at.is_(None))
            .values(slot_done_at=at)
            .returning(ScheduleStateRow.release_id)
        )
        async with self._transaction() as session:
            return (await session.scalar(change)) is not None


def _attempt_is(release_id: int, slot: datetime, attempt: int) -> tuple[ColumnElement[bool], ...]:
    return (
        ScheduleStateRow.release_id == release_id,
        ScheduleStateRow.last_slot_at == slot,
        ScheduleStateRow.slot_attempt == attempt,
    )
