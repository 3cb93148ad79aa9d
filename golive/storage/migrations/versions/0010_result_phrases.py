"""A result's message as a catalogue phrase, where golive worded it, so that a checklist
in German shows it in German when it is read back.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Older results have none: they are shown as they were stored.
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("phrase", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_column("phrase")
