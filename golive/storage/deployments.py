"""Deploys a forge holds until golive answers: recorded once per delivery, answered once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from .base import StoreBase
from .entries import PendingDeployment
from .models import PendingDeploymentRow


def _entry(row: PendingDeploymentRow) -> PendingDeployment:
    return PendingDeployment(
        id=row.id,
        release_id=row.release_id,
        forge=row.forge,
        delivery_id=row.delivery_id,
        repository=row.repository,
        environment=row.environment,
        ref=row.ref,
        sha=row.sha,
        installation_id=row.installation_id,
        callback_url=row.callback_url,
        received_at=row.received_at,
        answered_at=row.answered_at,
        state=row.state,
        comment=row.comment,
    )


class DeploymentStore(StoreBase):
    async def record_deployment(
        self,
        release_id: int,
        *,
        forge: str,
        delivery_id: str,
        repository: str,
        environment: str,
        ref: str,
        sha: str,
        installation_id: int,
        callback_url: str,
        at: datetime,
    ) -> bool:
        """True when recorded now; False for a delivery recorded before (a redelivery)."""
        insert = (
            self._insert(PendingDeploymentRow)
            .values(
                release_id=release_id,
                forge=forge,
                delivery_id=delivery_id,
                repository=repository,
                environment=environment,
                ref=ref,
                sha=sha,
                installation_id=installation_id,
                callback_url=callback_url,
                received_at=at,
            )
            .on_conflict_do_nothing(index_elements=["delivery_id"])
            .returning(PendingDeploymentRow.id)
        )
        async with self._transaction() as session:
            return (await session.scalar(insert)) is not None

    async def unanswered_deployments(self, release_id: int | None = None) -> list[PendingDeployment]:
        """Deploys still waiting for an answer, oldest first (of one release, or all)."""
        query = select(PendingDeploymentRow).where(PendingDeploymentRow.answered_at.is_(None))
        if release_id is not None:
            query = query.where(PendingDeploymentRow.release_id == release_id)
        async with self._transaction() as session:
            rows = (await session.scalars(query.order_by(PendingDeploymentRow.id))).all()
        return [_entry(row) for row in rows]

    async def deployments(self, release_id: int) -> list[PendingDeployment]:
        query = select(PendingDeploymentRow).where(PendingDeploymentRow.release_id == release_id)
        async with self._transaction() as session:
            rows = (await session.scalars(query.order_by(PendingDeploymentRow.id))).all()
        return [_entry(row) for row in rows]

    async def answer_deployment(self, deployment_id: int, *, state: str, comment: str, at: datetime) -> None:
        """Record the answer sent (after the forge took it)."""
        change = (
            update(PendingDeploymentRow)
            .where(PendingDeploymentRow.id == deployment_id)
            .values(answered_at=at, state=state, comment=comment)
        )
        async with self._transaction() as session:
            await session.execute(change)

    async def attempt_failed(self, deployment_id: int, *, state: str, comment: str) -> None:
        """Record why the latest answer did not go through (``state``: "retrying", or
        "uncertain" when GitHub may have applied it); the deploy stays unanswered."""
        change = (
            update(PendingDeploymentRow)
            .where(PendingDeploymentRow.id == deployment_id, PendingDeploymentRow.answered_at.is_(None))
            .values(state=state, comment=comment)
        )
        async with self._transaction() as session:
            await session.execute(change)
