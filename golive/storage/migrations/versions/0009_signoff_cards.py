"""Where the sign-off cards were posted, so that each is edited when a sign-off changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signoff_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("ts", sa.Text(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"], name="fk_signoff_cards_release_id_releases"),
        sa.PrimaryKeyConstraint("id", name="pk_signoff_cards"),
        sa.UniqueConstraint("channel", "ts", name="uq_signoff_cards_channel_ts"),
    )
    op.create_index("ix_signoff_cards_release_id", "signoff_cards", ["release_id"])


def downgrade() -> None:
    op.drop_index("ix_signoff_cards_release_id", table_name="signoff_cards")
    op.drop_table("signoff_cards")
