"""Deploys held by a forge until golive's GO (GitHub deployment protection rules).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("forge", sa.Text(), nullable=False),
        sa.Column("delivery_id", sa.Text(), nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("sha", sa.Text(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name="fk_pending_deployments_release_id_releases"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pending_deployments"),
        sa.UniqueConstraint("delivery_id", name="uq_pending_deployments_delivery_id"),
    )
    op.create_index("ix_pending_deployments_answered_at_id", "pending_deployments", ["answered_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_pending_deployments_answered_at_id", table_name="pending_deployments")
    op.drop_table("pending_deployments")
