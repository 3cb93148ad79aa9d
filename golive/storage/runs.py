"""Releases, runs and their results."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import BindParameter, Integer, Select, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import aliased

from golive.checks.results import ItemResult
from golive.checks.status import Status

from .base import StoreBase
from .codec import (
    decode_chart_points,
    decode_evidence,
    decode_observed,
    encode_chart_points,
    encode_conditions,
    encode_evidence,
    encode_observed,
    encode_phrase,
    numeric_values,
)
from .entries import ChartPoint, Observation, PhaseRun, RunInfo
from .errors import RunAborted
from .models import ChartPointRow, ChecklistRow, ReleaseRow, ResultRow, RunRow
from .rows import item_result, run_info


class RunStore(StoreBase):
    async def release_id(self, name: str, version: str) -> int:
        """The release's id, created on first use."""
        find = select(ReleaseRow.id).where(ReleaseRow.name == name, ReleaseRow.version == version)
        async with self._transaction() as session:
            found = await session.scalar(find)
            if found is None:
                # Two processes may create the same release at once; one insert wins.
                insert = self._insert(ReleaseRow).values(name=name, version=version)
                await session.execute(insert.on_conflict_do_nothing(index_elements=["name", "version"]))
                found = await session.scalar(find)
        assert found is not None
        return found

    async def release_of(self, release_id: int) -> tuple[str, str] | None:
        """(name, version) of a release."""
        query = select(ReleaseRow.name, ReleaseRow.version).where(ReleaseRow.id == release_id)
        async with self._transaction() as session:
            row = (await session.execute(query)).first()
        return None if row is None else (row[0], row[1])

    async def start_run(
        self,
        release_id: int,
        *,
        trigger: str,
        phase: str | None,
        checklist_digest: str,
        started_at: datetime,
        slot_at: datetime | None = None,
    ) -> int:
        """A new run, owned by this process (``holder``); ``slot_at`` for a scheduled one."""
        row = RunRow(
            release_id=release_id,
            started_at=started_at,
            status="running",
            trigger=trigger,
            phase=phase,
            checklist_digest=checklist_digest,
            owner=self.holder,
            slot_at=slot_at,
        )
        async with self._transaction() as session:
            session.add(row)
            await session.flush()
            return row.id

    async def set_run_message(self, run_id: int, *, channel: str, ts: str) -> None:
        """Where the run's message was posted in Slack."""
        change = update(RunRow).where(RunRow.id == run_id).values(message_channel=channel, message_ts=ts)
        async with self._transaction() as session:
            await session.execute(change)

    async def record_result(self, run_id: int, result: ItemResult, *, phase: str) -> None:
        """Store one result as soon as it is known: a crash mid-run keeps what was seen."""
        await self.record_results(run_id, [(result, phase)])

    async def record_results(self, run_id: int, results: Sequence[tuple[ItemResult, str]]) -> None:
        """Store (result, phase) pairs in one transaction, in this order: all or none."""
        async with self._transaction() as session:
            found = (
                await session.execute(select(RunRow.release_id, RunRow.status).where(RunRow.id == run_id))
            ).first()
            if found is None:
                raise LookupError(f"no run with id {run_id}")
            release_id, status = found
            if status != "running":
                # Aborted by another replica (this process was taken for dead): a late
                # result must not become the item's newest.
                raise RunAborted(run_id)
            if not results:
                return  # (no parameter sets would insert one row of defaults)
            # One INSERT of plain rows (executemany), not ORM objects: the unit of work
            # cost half a millisecond of CPU per result, a tenth of a probe's.
            await session.execute(
                insert(ResultRow),
                [
                    dict(
                        run_id=run_id,
                        release_id=release_id,
                        item_id=result.item_id,
                        phase=phase,
                        status=str(result.status),
                        raw_status=str(result.raw_status),
                        message=result.message,
                        raw_message=result.raw_message,
                        duration_ms=result.duration_ms,
                        checked_at=result.checked_at,
                        observed=encode_observed(result.observed),
                        evidence=encode_evidence(result.evidence),
                        conditions=encode_conditions(result.conditions),
                        phrase=encode_phrase(result.phrase),
                    )
                    for result, phase in results
                ],
            )

    async def finish_run(self, run_id: int, *, finished_at: datetime, verdict: str, fingerprint: str) -> None:
        # Only a run still running: one marked aborted meanwhile was given up on (by this
        # process at shutdown, or by another that took this one for dead and re-runs its
        # slot), and its late end must not stand beside, or above, its successor's.
        change = (
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.status == "running")
            .values(finished_at=finished_at, status="complete", verdict=verdict, fingerprint=fingerprint)
            .returning(RunRow.release_id, RunRow.started_at)
        )
        async with self._transaction() as session:
            finished = (await session.execute(change)).one_or_none()
            if finished is None:
                if await session.get(RunRow, run_id) is None:
                    raise LookupError(f"no run with id {run_id}")
                raise RunAborted(run_id)
            # What the charts need of this run, stored once now rather than decoded from
            # every result each time a chart is drawn (see ChartPointRow).
            rows = (await session.scalars(select(ResultRow).where(ResultRow.run_id == run_id))).all()
            await session.execute(delete(ChartPointRow).where(ChartPointRow.run_id == run_id))
            for phase, points in _points_by_phase(rows).items():
                session.add(
                    ChartPointRow(
                        run_id=run_id,
                        release_id=finished.release_id,
                        phase=phase,
                        run_at=finished.started_at,
                        points=encode_chart_points(points),
                    )
                )

    async def chart_history(self, release_id: int, phase: str, limit: int = 20) -> list[PhaseRun]:
        """The newest ``limit`` finished runs that observed ``phase``, oldest first: a
        phase-only run of another phase is not among them, so a phase's line has no gaps."""
        query = (
            select(ChartPointRow)
            .where(ChartPointRow.release_id == release_id, ChartPointRow.phase == phase)
            .order_by(ChartPointRow.run_id.desc())
            .limit(limit)
        )
        async with self._transaction() as session:
            rows = (await session.scalars(query)).all()
        return [PhaseRun(row.run_id, row.run_at, decode_chart_points(row.points)) for row in reversed(rows)]

    async def abort_runs(self, run_ids: Collection[int], *, at: datetime) -> list[int]:
        """Mark these runs aborted if they are still ``running``; returns those it marked.

        For a process giving up on its own runs (shutdown, a run that raised); the runs
        of dead processes are for :meth:`abort_orphaned_runs`."""
        if not run_ids:
            return []
        change = (
            update(RunRow)
            .where(RunRow.id.in_(list(run_ids)), RunRow.status == "running")
            .values(status="aborted", finished_at=at)
            .returning(RunRow.id)
        )
        async with self._transaction() as session:
            return sorted((await session.scalars(change)).all())

    async def latest_results(self, release_id: int) -> dict[str, ItemResult]:
        """The newest result of every item of the release, whichever run produced it."""
        return {item: seen.result for item, seen in (await self.latest_observations(release_id)).items()}

    async def latest_observations(self, release_id: int) -> dict[str, Observation]:
        """The newest result of every item of the release and the run that observed it.

        Newest by when it was observed (``checked_at``), not by run: a slow run that
        started earlier and finishes last does not hide what a later run saw since."""
        async with self._transaction() as session:
            rows = (await session.scalars(_LATEST_PER_ITEM, {"release_id": release_id})).all()
        return {
            row.item_id: Observation(row.run_id, item_result(row))
            for row in sorted(rows, key=lambda r: (r.checked_at, r.id))
        }

    async def store_checklist(self, digest: str, content: str, *, at: datetime) -> None:
        """Keep a checklist's content, once per digest (runs at once may both offer it)."""
        insert = self._insert(ChecklistRow).values(digest=digest, content=content, stored_at=at)
        async with self._transaction() as session:
            await session.execute(insert.on_conflict_do_nothing(index_elements=["digest"]))

    async def checklist_content(self, digest: str) -> str | None:
        async with self._transaction() as session:
            return await session.scalar(select(ChecklistRow.content).where(ChecklistRow.digest == digest))

    async def newest_run(self) -> RunInfo | None:
        """The most recently started run of any release: whose checklist to show when
        none is named. Ids increase in start order, and the primary key answers this."""
        query = select(RunRow).order_by(RunRow.id.desc()).limit(1)
        async with self._transaction() as session:
            row = await session.scalar(query)
        return None if row is None else run_info(row)

    async def run_results(self, run_id: int) -> dict[str, ItemResult]:
        query = select(ResultRow).where(ResultRow.run_id == run_id).order_by(ResultRow.id)
        async with self._transaction() as session:
            rows = (await session.scalars(query)).all()
        return {row.item_id: item_result(row) for row in rows}

    async def run(self, run_id: int) -> RunInfo | None:
        async with self._transaction() as session:
            row = await session.get(RunRow, run_id)
        return None if row is None else run_info(row)

    async def latest_run(self, release_id: int) -> RunInfo | None:
        found = await self.runs(release_id, limit=1)
        return found[0] if found else None

    async def runs(self, release_id: int, limit: int = 50) -> list[RunInfo]:
        """The release's runs, newest first."""
        query = (
            select(RunRow)
            .where(RunRow.release_id == release_id)
            .order_by(RunRow.started_at.desc(), RunRow.id.desc())
            .limit(limit)
        )
        async with self._transaction() as session:
            rows = (await session.scalars(query)).all()
        return [run_info(row) for row in rows]

    async def item_history(
        self, release_id: int, item_id: str, limit: int = 100
    ) -> list[tuple[int, ItemResult]]:
        """(run id, result) of one item, newest first."""
        query = (
            select(ResultRow)
            .where(ResultRow.release_id == release_id, ResultRow.item_id == item_id)
            .order_by(ResultRow.checked_at.desc(), ResultRow.id.desc())
            .limit(limit)
        )
        async with self._transaction() as session:
            rows = (await session.scalars(query)).all()
        return [(row.run_id, item_result(row)) for row in rows]


def _latest_per_item() -> Select[ResultRow]:
    """The newest row per item, found by seeking, not by scanning a year of results.

    A plain ``GROUP BY item_id`` (or a window function) reads every result of the
    release. Instead, a recursive CTE hops from one distinct item id to the next with
    ``min(item_id) … WHERE item_id > previous`` (each hop one seek into the
    (release_id, item_id, checked_at, id) index), and for each item a ``LIMIT 1``
    subquery reads the last entry of the same index. Both SQLite and PostgreSQL run it
    as ~2 seeks per item. Aliases keep each subquery from correlating with the others.
    Built once, with the release as a bound parameter: building it costs more than
    running it.
    """
    release_id: BindParameter[int] = bindparam("release_id", type_=Integer())
    first, hop, latest = aliased(ResultRow), aliased(ResultRow), aliased(ResultRow)
    items = (
        select(func.min(first.item_id).label("item_id"))
        .where(first.release_id == release_id)
        .cte("items", recursive=True)
    )
    next_item = (
        select(func.min(hop.item_id))
        .where(hop.release_id == release_id, hop.item_id > items.c.item_id)
        .scalar_subquery()
    )
    items = items.union_all(select(next_item).where(items.c.item_id.is_not(None)))
    newest_id = (
        select(latest.id)
        .where(latest.release_id == release_id, latest.item_id == items.c.item_id)
        .order_by(latest.checked_at.desc(), latest.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    newest_ids = select(newest_id).where(items.c.item_id.is_not(None))
    return select(ResultRow).where(ResultRow.id.in_(newest_ids))


_LATEST_PER_ITEM = _latest_per_item()


def _points_by_phase(rows: Sequence[ResultRow]) -> dict[str, dict[str, ChartPoint]]:
    by_phase: dict[str, dict[str, ChartPoint]] = {}
    for row in sorted(rows, key=lambda r: r.id):  # an item recorded twice: the last one
        evidence = decode_evidence(row.evidence)
        by_phase.setdefault(row.phase, {})[row.item_id] = ChartPoint(
            status=Status(row.status),
            duration_ms=row.duration_ms,
            values=numeric_values(decode_observed(row.observed)),
            source=evidence.source if evidence else None,
        )
    return by_phase
