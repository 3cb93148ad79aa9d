"""Several replicas: leases (the leader's and one per live process), the process and the
slot a run belongs to, and the attempts of the last scheduled slot.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    # Added columns are nullable or have a default: existing rows need no rewrite, and
    # SQLite can add them without rebuilding the table.
    op.add_column("runs", sa.Column("owner", sa.Text(), nullable=True))
    op.add_column("runs", sa.Column("slot_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "schedule_state",
        sa.Column("slot_attempt", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("schedule_state", sa.Column("slot_done_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedule_state") as batch:
        batch.drop_column("slot_done_at")
        batch.drop_column("slot_attempt")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("slot_at")
        batch.drop_column("owner")
    op.drop_table("leases")
