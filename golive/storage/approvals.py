"""What people record: confirmations, waivers, sign-offs, notes; and the audit log.
Every change a person causes is audited in the transaction that makes it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from golive.checks.results import Confirmation, Records, SignoffRecord, Waiver

from .base import SYSTEM_ACTOR, StoreBase
from .codec import decode_details, encode_approved
from .entries import AuditEntry, Note
from .models import (
    AuditRow,
    ConfirmationRow,
    NoteRow,
    SignoffRow,
    WaiverRow,
)
from .rows import note, records, signoff_record

#: An active sign-off: the predicate of the partial unique index (models.ACTIVE_SIGNOFF).
_ACTIVE = (SignoffRow.revoked_at.is_(None), SignoffRow.invalidated_at.is_(None))


@dataclass(frozen=True)
class _ReleaseChange:
    """One transaction that changes what was recorded for a release, and audits it."""

    session: AsyncSession
    release_id: int
    #: "name version", as the audit log names the release.
    label: str

    def audit(
        self, *, actor: str, action: str, about: str | None, details: Mapping[str, Any], at: datetime
    ) -> None:
        """Audit the change in this transaction: ``about`` (an item, a role) follows the
        release's label in the subject; ``details`` follow the release id."""
        StoreBase._audit(
            self.session,
            actor=actor,
            action=action,
            subject=f"{self.label}: {about}" if about is not None else self.label,
            details={"release_id": self.release_id, **details},
            at=at,
        )


class RecordStore(StoreBase):
    @asynccontextmanager
    async def _release_change(self, release_id: int) -> AsyncIterator[_ReleaseChange]:
        """The transaction every recording runs in: the release must exist (``LookupError``
        otherwise), and its audit entry commits with the change, or neither does."""
        async with self._transaction() as session:
            yield _ReleaseChange(session, release_id, await self._release_label(session, release_id))

    # -- confirmations ---------------------------------------------------------------

    async def add_confirmation(
        self, release_id: int, confirmation: Confirmation, *, actor: str
    ) -> None:
        c = confirmation
        async with self._release_change(release_id) as recording:
            session = recording.session
            session.add(
                ConfirmationRow(
                    release_id=release_id,
                    item_id=c.item_id,
                    user=c.user,
                    confirmed_at=c.confirmed_at,
                    evidence_url=c.evidence_url,
                    comment=c.comment,
                )
            )
            details = {"user": c.user, "evidence_url": c.evidence_url, "comment": c.comment}
            recording.audit(
                actor=actor,
                action="confirmation.add",
                about=c.item_id,
                details={"item_id": c.item_id, **details},
                at=c.confirmed_at,
            )

    async def revoke_confirmation(
        self, release_id: int, item_id: str, *, by: str, at: datetime
    ) -> bool:
        """Revoke every standing confirmation of the item, so it is pending again."""
        change = (
            update(ConfirmationRow)
            .where(
                ConfirmationRow.release_id == release_id,
                ConfirmationRow.item_id == item_id,
                ConfirmationRow.revoked_at.is_(None),
            )
            .values(revoked_at=at, revoked_by=by)
            .returning(ConfirmationRow.id)
        )
        async with self._release_change(release_id) as recording:
            session = recording.session
            revoked = sorted((await session.scalars(change)).all())
            if revoked:
                recording.audit(
                    actor=by,
                    action="confirmation.revoke",
                    about=item_id,
                    details={"item_id": item_id, "ids": revoked},
                    at=at,
                )
        return bool(revoked)

    # -- waivers ---------------------------------------------------------------------

    async def add_waiver(self, release_id: int, waiver: Waiver) -> int:
        w = waiver
        row = WaiverRow(
            release_id=release_id,
            item_id=w.item_id,
            reason=w.reason,
            created_by=w.created_by,
            created_at=w.created_at,
            expires_at=w.expires_at,
        )
        async with self._release_change(release_id) as recording:
            session = recording.session
            session.add(row)
            await session.flush()
            recording.audit(
                actor=w.created_by,
                action="waiver.add",
                about=w.item_id,
                details={
                    "item_id": w.item_id,
                    "waiver_id": row.id,
                    "reason": w.reason,
                    "expires_at": w.expires_at,
                },
                at=w.created_at,
            )
            return row.id

    async def revoke_waiver(
        self, release_id: int, waiver_id: int, *, by: str, at: datetime
    ) -> bool:
        change = (
            update(WaiverRow)
            .where(
                WaiverRow.id == waiver_id,
                WaiverRow.release_id == release_id,
                WaiverRow.revoked_at.is_(None),
            )
            .values(revoked_at=at, revoked_by=by)
            .returning(WaiverRow.item_id)
        )
        async with self._release_change(release_id) as recording:
            session = recording.session
            item_id = await session.scalar(change)
            if item_id is not None:
                recording.audit(
                    actor=by,
                    action="waiver.revoke",
                    about=item_id,
                    details={"item_id": item_id, "waiver_id": waiver_id},
                    at=at,
                )
        return item_id is not None

    # -- sign-offs -------------------------------------------------------------------

    async def add_signoff(self, release_id: int, record: SignoffRecord) -> bool:
        """Record a sign-off; False, and nothing written, if the role already has an
        active one. The partial unique index decides, so concurrent clicks cannot both win."""
        r = record
        insert = self._insert(SignoffRow).values(
            release_id=release_id,
            role=r.role,
            user=r.user,
            signed_at=r.signed_at,
            run_id=r.run_id,
            approved=encode_approved(r.approved),
            fingerprint=r.fingerprint,
            revoked_at=r.revoked_at,
            invalidated_at=r.invalidated_at,
            invalidated_reason=r.invalidated_reason,
        )
        insert_once = insert.on_conflict_do_nothing(
            index_elements=["release_id", "role"], index_where=and_(*_ACTIVE)
        ).returning(SignoffRow.id)
        async with self._release_change(release_id) as recording:
            session = recording.session
            signoff_id = await session.scalar(insert_once)
            if signoff_id is None:
                return False
            recording.audit(
                actor=r.user,
                action="signoff.add",
                about=r.role,
                details={
                    "role": r.role,
                    "signoff_id": signoff_id,
                    "run_id": r.run_id,
                    "fingerprint": r.fingerprint,
                },
                at=r.signed_at,
            )
        return True

    async def revoke_signoff(self, release_id: int, role: str, *, by: str, at: datetime) -> bool:
        return await self._end_signoff(
            release_id,
            role,
            values={"revoked_at": at, "revoked_by": by},
            actor=by,
            action="signoff.revoke",
            details={},
            at=at,
        )

    async def invalidate_signoff(
        self, release_id: int, role: str, *, reason: str, at: datetime
    ) -> bool:
        """golive's own doing: a check the role owns regressed after it signed."""
        return await self._end_signoff(
            release_id,
            role,
            values={"invalidated_at": at, "invalidated_reason": reason},
            actor=SYSTEM_ACTOR,
            action="signoff.invalidate",
            details={"reason": reason},
            at=at,
        )

    async def _end_signoff(
        self,
        release_id: int,
        role: str,
        *,
        values: Mapping[str, Any],
        actor: str,
        action: str,
        details: Mapping[str, Any],
        at: datetime,
    ) -> bool:
        change = (
            update(SignoffRow)
            .where(SignoffRow.release_id == release_id, SignoffRow.role == role, *_ACTIVE)
            .values(**values)
            .returning(SignoffRow.id)
        )
        async with self._release_change(release_id) as recording:
            session = recording.session
            signoff_id = await session.scalar(change)
            if signoff_id is not None:
                recording.audit(
                    actor=actor,
                    action=action,
                    about=role,
                    details={"role": role, "signoff_id": signoff_id, **details},
                    at=at,
                )
        return signoff_id is not None

    async def signoffs(self, release_id: int) -> list[SignoffRecord]:
        """Every sign-off of the release, revoked and invalidated ones too, newest first."""
        async with self._transaction() as session:
            return await _signoffs(session, release_id)

    async def records(self, release_id: int) -> Records:
        """Standing confirmations and waivers (expiry is the verdict's business, as of its
        ``now``), and every sign-off, read in one transaction."""
        confirmations = (
            select(ConfirmationRow)
            .where(ConfirmationRow.release_id == release_id, ConfirmationRow.revoked_at.is_(None))
            .order_by(ConfirmationRow.confirmed_at, ConfirmationRow.id)
        )
        waivers = (
            select(WaiverRow)
            .where(WaiverRow.release_id == release_id, WaiverRow.revoked_at.is_(None))
            .order_by(WaiverRow.created_at, WaiverRow.id)
        )
        async with self._transaction() as session:
            confirmation_rows = (await session.scalars(confirmations)).all()
            waiver_rows = (await session.scalars(waivers)).all()
            signoff_rows = await _signoff_rows(session, release_id)
        return records(confirmation_rows, waiver_rows, signoff_rows)

    # -- notes -----------------------------------------------------------------------

    async def add_note(self, release_id: int, *, author: str, text: str, at: datetime) -> int:
        row = NoteRow(release_id=release_id, author=author, text=text, created_at=at)
        async with self._release_change(release_id) as recording:
            session = recording.session
            session.add(row)
            await session.flush()
            recording.audit(
                actor=author,
                action="note.add",
                about=None,
                details={"note_id": row.id, "text": text},
                at=at,
            )
            return row.id

    async def notes(self, release_id: int) -> list[Note]:
        """The release's notes, oldest first, as a report lists them."""
        query = (
            select(NoteRow)
            .where(NoteRow.release_id == release_id)
            .order_by(NoteRow.created_at, NoteRow.id)
        )
        async with self._transaction() as session:
            rows = (await session.scalars(query)).all()
        return [note(r) for r in rows]

    # -- audit log -------------------------------------------------------------------

    async def audit(
        self, *, actor: str, action: str, subject: str, details: dict[str, Any], at: datetime
    ) -> None:
        async with self._transaction() as session:
            self._audit(session, actor=actor, action=action, subject=subject, details=details, at=at)

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The newest entries first."""
        query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
        async with self._transaction() as session:
            rows = (await session.scalars(query)).all()
        return [
            AuditEntry(r.id, r.at, r.actor, r.action, r.subject, decode_details(r.details))
            for r in rows
        ]


async def _signoff_rows(session: AsyncSession, release_id: int) -> Sequence[SignoffRow]:
    """The release's sign-offs, newest first."""
    query = (
        select(SignoffRow)
        .where(SignoffRow.release_id == release_id)
        .order_by(SignoffRow.signed_at.desc(), SignoffRow.id.desc())
    )
    return (await session.scalars(query)).all()


async def _signoffs(session: AsyncSession, release_id: int) -> list[SignoffRecord]:
    return [signoff_record(r) for r in await _signoff_rows(session, release_id)]
