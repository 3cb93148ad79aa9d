"""Where each run's message is in Slack, so that the replica taking over from one that
went away mid-run can edit that message to its final state.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: runs from before, and runs whose message could not be posted, have none.
    op.add_column("runs", sa.Column("message_channel", sa.Text(), nullable=True))
    op.add_column("runs", sa.Column("message_ts", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("message_ts")
        batch.drop_column("message_channel")
