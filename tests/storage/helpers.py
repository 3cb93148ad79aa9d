"""Builders and checks shared by the storage tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from golive.checks.conditions import ConditionOutcome
from golive.checks.probe import Evidence
from golive.checks.results import ItemResult
from golive.checks.status import Status
from golive.storage import Store
from tests.services.postgres import PostgresDatabase

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def server_connections(database: PostgresDatabase, wait: float = 5.0) -> int:
    """Backends connected to the database, once closed ones had time to exit (a backend
    leaves pg_stat_activity shortly after its client hangs up, not at once)."""
    deadline = time.monotonic() + wait
    while True:
        with database.server.connect() as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database.name,)
            ).fetchone()
        count = int(row[0]) if row else 0
        if count == 0 or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def result(
    item_id: str,
    status: Status = Status.PASS,
    *,
    at: datetime = T0,
    message: str = "ok",
    observed: dict[str, Any] | None = None,
) -> ItemResult:
    return ItemResult(
        item_id=item_id,
        status=status,
        raw_status=status,
        message=message,
        duration_ms=12.5,
        checked_at=at,
        observed=observed if observed is not None else {"STATUS": 200},
        evidence=Evidence(source=f"https://svc.example/{item_id}", observed_at=at),
        conditions=(ConditionOutcome("[STATUS] == 200", True, "[STATUS] = 200, limit == 200"),),
        raw_message=message,
    )


async def new_run(
    store: Store,
    release_id: int,
    at: datetime,
    *results: tuple[str, ItemResult],
    phase: str | None = None,
) -> int:
    """A run with results recorded as (phase, result) pairs; left running."""
    run_id = await store.start_run(
        release_id, trigger="cli", phase=phase, checklist_digest="digest-1", started_at=at
    )
    for item_phase, item_result in results:
        await store.record_result(run_id, item_result, phase=item_phase)
    return run_id

