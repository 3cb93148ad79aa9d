"""A snapshot reads what the Store reads, on every backend, or declines.

`golive status` and `report` read a snapshot (plain SQL through sqlite3 or psycopg) instead
of the Store, to start without SQLAlchemy. Each test here fills a database through the
Store, then asks both the same questions: the answers must be equal, value for value.
Where the snapshot cannot answer as the Store would, it must say so (None, or
NotInSnapshot) rather than answer differently.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from golive.bot.core import usecases
from golive.bot.render.json import state_document
from golive.bot.state import State
from golive.checks.loader import loads
from golive.checks.phrases import Phrase
from golive.checks.results import Confirmation, ItemResult, SignoffRecord, Waiver
from golive.checks.status import Status
from golive.storage import Store
from golive.storage.migrate import downgrade
from golive.storage.snapshot import NotInSnapshot, Snapshot, open_snapshot
from golive.storage.urls import resolve
from tests.services.postgres import PostgresDatabase

from .conftest import Backend
from .helpers import T0, result

CHECKLIST = """
release: {name: shop, version: "2.0"}
phases:
  - id: p1
    title: Images
    sections:
      - id: s1
        title: Build
        items:
          - {id: api-up, title: API up, probe: {type: http, url: "https://api.example/health"}}
          - {id: p95, title: P95, probe: {type: http, url: "https://api.example/p95"}}
          - {id: bare, title: Bare, probe: {type: http, url: "https://api.example/bare"}}
          - {id: runbook, title: Runbook, probe: {type: manual}}
          - {id: all-green, title: All green, probe: {type: aggregate, include: [s1]}}
signoffs:
  - {id: devops, title: DevOps, approvers: {users: [UALICE, UDAN]}}
  - {id: security, title: Security, approvers: {users: [USEC]}}
"""


@contextmanager
def snapshot_of(url: str | None) -> Iterator[Snapshot]:
    snapshot = open_snapshot(url)
    assert snapshot is not None, "the snapshot declined an up-to-date database"
    try:
        yield snapshot
    finally:
        snapshot.close()


async def fill(store: Store) -> tuple[int, int, list[int]]:
    """A release with everything status shows: runs (one newer but probing older evidence),
    odd observed values, confirmations, waivers and sign-offs (some revoked or
    invalidated), notes; and a second release whose rows must not show."""
    release = await store.release_id("shop", "2.0")
    other = await store.release_id("shop", "2.1")
    await store.store_checklist("digest-1", CHECKLIST, at=T0)
    first = await store.start_run(
        release, trigger="cli", phase=None, checklist_digest="digest-1", started_at=T0
    )
    unset = Phrase.of("result_not_configured", variables="API_URL")
    odd = result(
        "p95",
        Status.FAIL,
        message="*bold* <!channel> ünïcödé",
        observed={
            "P95_MS": float("nan"),
            "SEEN": T0,
            "BIG": 2**70,
            "LIST": [1, None, {"x": float("inf")}],
        },
    )
    await store.record_results(
        first,
        [
            (result("api-up"), "p1"),
            (odd, "p1"),
            (ItemResult("bare", Status.ERROR, Status.ERROR, "not configured", 0.0, T0, phrase=unset), "p1"),
        ],
    )
    await store.finish_run(first, finished_at=T0 + timedelta(minutes=1), verdict="NO-GO", fingerprint="f1")
    elsewhere = await store.start_run(
        other, trigger="cli", phase=None, checklist_digest="digest-1", started_at=T0 + timedelta(hours=2)
    )
    await store.record_results(elsewhere, [(result("api-up", Status.FAIL), "p1")])
    second = await store.start_run(
        release,
        trigger="schedule",
        phase="p1",
        checklist_digest="digest-1",
        started_at=T0 + timedelta(hours=1),
    )
    # Newer run, older observation of p95: the newest observation wins, not the newest run.
    await store.record_results(
        second,
        [
            (result("api-up", Status.WARN, at=T0 + timedelta(hours=1), message="slow"), "p1"),
            (result("p95", Status.PASS, at=T0 - timedelta(hours=1)), "p1"),
        ],
    )

    await store.add_confirmation(
        release, Confirmation("runbook", "U-bob", T0, "https://wiki.example/rb", "ok"), actor="U-bob"
    )
    await store.add_confirmation(
        release, Confirmation("runbook", "U-eve", T0 + timedelta(minutes=5)), actor="U-eve"
    )
    await store.revoke_confirmation(release, "runbook", by="U-erin", at=T0 + timedelta(minutes=6))
    await store.add_confirmation(
        release, Confirmation("runbook", "U-carol", T0 + timedelta(minutes=7)), actor="U-carol"
    )
    kept = Waiver("p95", "vendor fix <pending>", "USEC", T0, T0 + timedelta(days=7))
    dropped = await store.add_waiver(release, Waiver("bare", "no", "USEC", T0, T0 + timedelta(days=1)))
    await store.add_waiver(release, kept)
    await store.revoke_waiver(release, dropped, by="USEC", at=T0 + timedelta(minutes=1))
    await store.add_waiver(other, Waiver("api-up", "other release", "U-x", T0, T0 + timedelta(days=1)))

    def signoff(role: str, user: str, minutes: int) -> SignoffRecord:
        approved = {"api-up": Status.PASS, "p95": Status.WAIVED}
        return SignoffRecord(role, user, T0 + timedelta(minutes=minutes), first, approved, "fingerprint-1")

    await store.add_signoff(release, signoff("devops", "UALICE", 10))
    await store.revoke_signoff(release, "devops", by="UALICE", at=T0 + timedelta(minutes=11))
    await store.add_signoff(release, signoff("devops", "UDAN", 12))
    await store.add_signoff(release, signoff("security", "USEC", 13))
    await store.invalidate_signoff(release, "security", reason="p95 regressed", at=T0 + timedelta(minutes=14))
    notes = [
        await store.add_note(release, author="U-bob", text="*not bold* & <@U123> " + "x" * 40_000, at=T0),
        await store.add_note(release, author="U-carol", text="zweite Notiz", at=T0 + timedelta(minutes=1)),
    ]
    return release, second, notes


async def test_a_snapshot_answers_every_question_as_the_store_does(store: Store, backend: Backend) -> None:
    release, newest, _ = await fill(store)
    with snapshot_of(backend.url) as snapshot:
        assert await snapshot.release_id("shop", "2.0") == await store.release_id("shop", "2.0") == release
        assert await snapshot.release_of(release) == await store.release_of(release) == ("shop", "2.0")
        assert await snapshot.release_of(999) is await store.release_of(999) is None
        assert await snapshot.newest_run() == await store.newest_run()
        assert (await snapshot.latest_run(release)) == (await store.latest_run(release))
        assert (await snapshot.latest_run(release)).id == newest  # type: ignore[union-attr]
        for run_id in (1, newest, 999):
            assert await snapshot.run(run_id) == await store.run(run_id)
        assert await snapshot.checklist_content("digest-1") == await store.checklist_content("digest-1")
        assert await snapshot.checklist_content("nothing") is None
        records = await snapshot.records(release)
        assert records == await store.records(release)
        assert [c.user for c in records.confirmations] == ["U-carol"]  # the revoked ones are gone
        assert len(records.signoffs) == 3
        observations = await snapshot.latest_observations(release)
        # repr: a NaN observed is not equal to itself, yet must read back as NaN; the order counts too.
        assert repr(observations) == repr(await store.latest_observations(release))
        assert observations["p95"].result.status == Status.FAIL  # observed later, by the older run
        notes = await snapshot.notes(release)
        assert notes == await store.notes(release)
        assert len(notes[0].text) > 40_000


def shown(state: State) -> str:
    """The state as `golive status --format json` prints it, less the time each derived
    item took to decide."""

    def timeless(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: timeless(v) for k, v in value.items() if k != "duration_ms"}
        if isinstance(value, list):
            return [timeless(v) for v in value]
        return value

    return json.dumps(timeless(state_document(state)), default=str)


async def test_the_state_status_shows_is_the_same_from_a_snapshot(store: Store, backend: Backend) -> None:
    """The whole state, decided as of one moment, rendered as `golive status --format json`."""
    await fill(store)
    at = T0 + timedelta(hours=3)
    from_store = await usecases.current_state(
        await usecases.stored_checklist(store, bind_probes=False), store, now=lambda: at
    )
    with snapshot_of(backend.url) as snapshot:
        checklist = await usecases.stored_checklist(snapshot, bind_probes=False)
        from_snapshot = await usecases.current_state(checklist, snapshot, now=lambda: at)
    # Derived items are decided afresh by each, taking their own time; the rest is equal,
    # compared as text since a NaN observed is not equal to itself yet must read back as NaN.
    assert shown(from_snapshot) == shown(from_store)
    assert from_snapshot.verdict == from_store.verdict
    assert from_snapshot.results["all-green"].status is not Status.PASS  # derived, decided afresh


async def test_a_checklist_only_shown_binds_no_automated_probe() -> None:
    shown = loads(CHECKLIST, bind_probes=False)
    bound = loads(CHECKLIST)
    assert shown.item("api-up").config is None and bound.item("api-up").config is not None
    assert shown.item("api-up").parsed_conditions == () and bound.item("api-up").parsed_conditions != ()
    # Manual and derived items are bound in full: the verdict decides with them.
    assert shown.item("runbook").config == bound.item("runbook").config
    assert shown.item("all-green").config == bound.item("all-green").config
    assert shown.item("all-green").parsed_conditions == bound.item("all-green").parsed_conditions


async def test_one_snapshot_is_one_moment(store: Store, backend: Backend) -> None:
    """A run storing results while status reads: status sees the database as of its first
    read, not half of the run."""
    release, newest, _ = await fill(store)
    with snapshot_of(backend.url) as snapshot:
        assert (await snapshot.latest_run(release)).id == newest  # type: ignore[union-attr]
        later = await store.start_run(
            release,
            trigger="cli",
            phase=None,
            checklist_digest="digest-1",
            started_at=T0 + timedelta(hours=5),
        )
        await store.record_results(later, [(result("api-up", Status.FAIL, at=T0 + timedelta(hours=5)), "p1")])
        assert (await snapshot.latest_run(release)).id == newest  # type: ignore[union-attr]
        assert (await snapshot.latest_observations(release))["api-up"].result.status == Status.WARN
    with snapshot_of(backend.url) as snapshot:
        assert (await snapshot.latest_observations(release))["api-up"].result.status == Status.FAIL


async def test_a_release_not_recorded_is_left_to_the_store(store: Store, backend: Backend) -> None:
    """The Store records a release on first sight; a snapshot cannot, so it declines."""
    await fill(store)
    with snapshot_of(backend.url) as snapshot, pytest.raises(NotInSnapshot):
        await snapshot.release_id("shop", "9.9")


def test_a_database_the_store_would_create_is_left_to_it(tmp_path: Path) -> None:
    missing = tmp_path / "new.db"
    assert open_snapshot(f"sqlite:///{missing}") is None
    assert not missing.exists()  # declining created nothing


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///:memory:",
        "sqlite://",
        "sqlite:///{folder}/golive.db?mode=ro",
        "sqlite:///{folder}/gol%69ve.db",
        "mysql://u:p@127.0.0.1/golive",
    ],
)
async def test_a_url_it_does_not_read_plainly_is_left_to_the_store(url: str, tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path}/golive.db")
    await store.release_id("shop", "2.0")
    await store.close()
    assert open_snapshot(url.format(folder=tmp_path)) is None


async def test_a_database_behind_the_newest_revision_is_left_to_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/golive.db"
    store = await Store.open(url)
    await fill(store)
    await store.close()
    await asyncio.to_thread(downgrade, resolve(url), "-1")
    assert open_snapshot(url) is None
    store = await Store.open(url)  # migrates again
    await store.close()
    with snapshot_of(url) as snapshot:
        assert await snapshot.release_of(1) == ("shop", "2.0")


@pytest.mark.services
def test_an_unreachable_or_refusing_postgres_is_left_to_the_store(
    postgres_database: PostgresDatabase,
) -> None:
    """The Store then says why, in its words and without the password."""
    assert open_snapshot(postgres_database.server.url("no_such_database")) is None
    assert open_snapshot("postgresql://golive:secret-4711@127.0.0.1:1/golive") is None


def test_the_environment_s_database_is_read_when_none_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/env.db"

    async def prepare() -> None:
        store = await Store.open(url)
        await store.release_id("shop", "2.0")
        await store.close()

    asyncio.run(prepare())
    monkeypatch.setenv("GOLIVE_DB_URL", url)
    with snapshot_of(None) as snapshot:
        assert asyncio.run(snapshot.release_of(1)) == ("shop", "2.0")


async def test_a_snapshot_leaves_no_files_beside_the_database(tmp_path: Path) -> None:
    """`golive status` in a folder leaves it as it found it: SQLite's write-ahead files,
    created for the read, are removed with the last connection, as the Store's are."""
    url = f"sqlite:///{tmp_path}/golive.db"
    store = await Store.open(url)
    await fill(store)
    await store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golive.db"]
    with snapshot_of(url) as snapshot:
        assert await snapshot.release_of(1) == ("shop", "2.0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golive.db"]


async def test_a_snapshot_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/golive.db"
    store = await Store.open(url)
    await fill(store)
    await store.close()
    before = (tmp_path / "golive.db").read_bytes()
    with snapshot_of(url) as snapshot:
        await usecases.current_state(await usecases.stored_checklist(snapshot, bind_probes=False), snapshot)
        # Its connection refuses a write, should one ever be asked of it.
        insert = "INSERT INTO notes (release_id, author, text, created_at) VALUES (1, 'x', 'y', 'z')"
        with pytest.raises(NotInSnapshot):
            snapshot._all(insert)
    assert (tmp_path / "golive.db").read_bytes() == before
