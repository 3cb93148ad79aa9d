"""What the phase charts need per run and phase, stored when a run finishes, and filled
here for the runs finished before: the charts then read twenty small rows instead of
decoding every result of twenty runs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Typeless columns where a value is only copied (started_at → run_at), so it is written
# back exactly as the backend stored it; JSON where the document is read.
_runs = sa.table(
    "runs", sa.column("id"), sa.column("release_id"), sa.column("started_at"), sa.column("status")
)
_results = sa.table(
    "results",
    sa.column("id"),
    sa.column("run_id"),
    sa.column("item_id"),
    sa.column("phase"),
    sa.column("status"),
    sa.column("duration_ms"),
    sa.column("observed", sa.JSON()),
    sa.column("evidence", sa.JSON()),
)
_points = sa.table(
    "chart_points",
    sa.column("run_id"),
    sa.column("release_id"),
    sa.column("phase"),
    sa.column("run_at"),
    sa.column("points", sa.JSON()),
)


def upgrade() -> None:
    op.create_table(
        "chart_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.Text(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("points", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_chart_points_release_id_releases")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_chart_points_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chart_points")),
        sa.UniqueConstraint("run_id", "phase", name=op.f("uq_chart_points_run_id_phase")),
    )
    op.create_index(
        op.f("ix_chart_points_release_id_phase_run_id"), "chart_points", ["release_id", "phase", "run_id"]
    )
    _fill(op.get_bind())


def _fill(connection: sa.Connection) -> None:
    runs = connection.execute(
        sa.select(_runs.c.id, _runs.c.release_id, _runs.c.started_at)
        .where(_runs.c.status == "complete")
        .order_by(_runs.c.id)
    ).all()
    for run_id, release_id, started_at in runs:
        rows = connection.execute(
            sa.select(_results).where(_results.c.run_id == run_id).order_by(_results.c.id)
        ).all()
        by_phase: dict[str, dict[str, Any]] = {}
        for row in rows:
            by_phase.setdefault(row.phase, {})[row.item_id] = {
                "status": row.status,
                "duration_ms": row.duration_ms,
                "values": _numbers(row.observed),
                "source": (row.evidence or {}).get("source"),
            }
        if by_phase:
            connection.execute(
                sa.insert(_points),
                [
                    {
                        "run_id": run_id,
                        "release_id": release_id,
                        "phase": phase,
                        "run_at": started_at,
                        "points": {"version": 1, "items": items},
                    }
                    for phase, items in by_phase.items()
                ],
            )


def _numbers(observed: dict[str, Any]) -> dict[str, float]:
    values = observed.get("values", {})
    return {
        name: float(value)
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def downgrade() -> None:
    op.drop_index(op.f("ix_chart_points_release_id_phase_run_id"), table_name="chart_points")
    op.drop_table("chart_points")
