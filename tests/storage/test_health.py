"""Readiness from the store's side: ``ping`` answers while the database is usable and
raises StorageError (without the password) once it is not; ``abort_runs`` gives up on a
process's own runs only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from golive.checks.status import Status
from golive.storage import RunAborted, StorageError, Store
from tests.services import require_service
from tests.services.postgres import PostgresServer, unavailable_reason

from .helpers import T0, new_run, result


async def test_ping_answers_on_a_usable_database(store: Store) -> None:
    await store.ping()
    await store.ping()  # and gives its connection back (the fixture checks the pool)


async def test_ping_fails_once_the_sqlite_file_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "golive.db"
    store = await Store.open(f"sqlite:///{path}")
    try:
        await store.ping()
        path.unlink()
        with pytest.raises(StorageError, match="the file is gone"):
            await store.ping()
    finally:
        await store.close()


@pytest.mark.services
async def test_ping_fails_when_postgres_stops_and_recovers_when_it_is_back() -> None:
    reason = unavailable_reason()
    if reason is not None:
        require_service("PostgreSQL", reason)
    # A server of its own: stopping the session's server would break other tests.
    server = PostgresServer().start()
    try:
        store = await Store.open(server.url())
        try:
            await store.ping()
            server.run("pg_ctl", "stop", "-D", server.data_dir, "-m", "fast", "-w")
            with pytest.raises(StorageError) as raised:
                await store.ping()
            assert f"{server.host}:{server.port}" in str(raised.value)
            server.start(init=False)
            await store.ping()
        finally:
            await store.close()
    finally:
        server.stop()


async def test_abort_runs_marks_only_the_given_runs_still_running(store: Store) -> None:
    release = await store.release_id("r", "1")
    done = await new_run(store, release, T0, ("P1", result("a")))
    await store.finish_run(done, finished_at=T0, verdict="GO", fingerprint="f")
    mine = await new_run(store, release, T0 + timedelta(minutes=1), ("P1", result("b")))
    other_replicas = await new_run(store, release, T0 + timedelta(minutes=2))
    at = T0 + timedelta(hours=1)

    assert await store.abort_runs([done, mine], at=at) == [mine]
    assert await store.abort_runs([mine], at=at) == []
    assert await store.abort_runs([], at=at) == []

    info = await store.run(mine)
    assert info is not None and (info.status, info.finished_at) == ("aborted", at)
    assert set(await store.run_results(mine)) == {"b"}
    for untouched, status in ((done, "complete"), (other_replicas, "running")):
        found = await store.run(untouched)
        assert found is not None and found.status == status


async def test_a_run_aborted_meanwhile_takes_no_late_results_and_stays_aborted(store: Store) -> None:
    """A process taken for dead (paused past its lease) wakes and carries on: its run,
    aborted by the replica that took over, must not turn back to complete or give the
    items their newest results."""
    release = await store.release_id("r", "1")
    stale = await new_run(store, release, T0, ("P1", result("a", at=T0)))
    assert await store.abort_runs([stale], at=T0 + timedelta(seconds=5)) == [stale]
    successor = await new_run(
        store, release, T0 + timedelta(seconds=6), ("P1", result("a", at=T0 + timedelta(seconds=7)))
    )
    await store.finish_run(successor, finished_at=T0 + timedelta(seconds=8), verdict="GO", fingerprint="f")

    late = result("a", Status.FAIL, at=T0 + timedelta(seconds=9))
    with pytest.raises(RunAborted) as raised:
        await store.record_result(stale, late, phase="P1")
    assert raised.value.run_id == stale
    with pytest.raises(RunAborted):
        await store.finish_run(
            stale, finished_at=T0 + timedelta(seconds=10), verdict="NO-GO", fingerprint="g"
        )

    info = await store.run(stale)
    assert info is not None and (info.status, info.verdict) == ("aborted", None)
    assert (await store.latest_results(release))["a"].status == Status.PASS
    assert [r.id for r in await store.runs(release) if r.status == "complete"] == [successor]
    with pytest.raises(LookupError):
        await store.finish_run(stale + 100, finished_at=T0, verdict="GO", fingerprint="f")
