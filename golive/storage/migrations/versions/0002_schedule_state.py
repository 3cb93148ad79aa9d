"""Schedule state: whether the release's schedule is paused, and the last slot it ran.

Written by hand in the style of 0001: plain SQLAlchemy types, constraint names spelled
out as the models' naming convention makes them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedule_state",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_slot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_schedule_state_release_id_releases")
        ),
        sa.ForeignKeyConstraint(
            ["last_run_id"], ["runs.id"], name=op.f("fk_schedule_state_last_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("release_id", name=op.f("pk_schedule_state")),
    )


def downgrade() -> None:
    op.drop_table("schedule_state")
