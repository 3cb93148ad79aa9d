"""Several ``golive run`` processes at once on one database, each probing its own target:
each must print, and exit with, its own run (its results, its id, its times, the verdict
as of its finish), never the run that happened to store last. Real processes, on one
SQLite file and on a real PostgreSQL, and one CLI run beside the schedule of a real
``golive serve``; several rounds, with the probes' durations rotated, so that every order
of finishing occurs.

A process takes seconds to start on a busy machine, so the targets make the runs meet:
each holds its answer until every process's probe has arrived, then answers after its
own delay. Every round thus has all runs in flight at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from golive.storage import Store
from tests.services.postgres import PostgresDatabase

from .fake_slack import FakeSlack
from .serve_process import environment, serve_process
from .slack_support import Target, _Handler, checklist_file


class _MeetingHandler(_Handler):
    """Answers once the probes of every process have arrived (see the module's doc)."""

    server: MeetingTarget

    def do_GET(self) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            self.server.meeting.wait(timeout=MEETING_TIMEOUT)
        super().do_GET()


class MeetingTarget(Target):
    meeting: threading.Barrier


#: Status codes the targets answer: each process's probe sees a different one.
STATUSES = (200, 503, 500)
#: Seconds each target takes to answer, rotated every round.
DELAYS = (1.2, 0.1, 0.6)
ROUNDS = 4
MEETING_TIMEOUT = 90.0
RELEASE = ("Shop", "2.0.0")


@contextmanager
def targets(count: int) -> Iterator[list[MeetingTarget]]:
    meeting = threading.Barrier(count)
    with ExitStack() as stack:
        servers = []
        for n in range(count):
            server = MeetingTarget(("127.0.0.1", 0), _MeetingHandler)
            server.meeting = meeting
            server.status = STATUSES[n]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            servers.append(server)
        yield servers


@dataclass
class Outcome:
    expected_status: int
    exit_code: int
    document: dict[str, Any]
    stderr: str


def checklists(folder: Path, servers: list[MeetingTarget]) -> list[Path]:
    """The same release's checklist, each copy probing its own target."""
    paths = []
    for n, server in enumerate(servers):
        own = folder / f"process-{n}"
        own.mkdir(exist_ok=True)
        paths.append(checklist_file(own, server.server_address[1]))
    return paths


async def cli_run(checklist: Path, db_url: str, *extra: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "golive",
        "run",
        "--checklist",
        str(checklist),
        "--format",
        "json",
        "--db",
        db_url,
        *extra,
        env=environment({}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def concurrent_round(paths: list[Path], servers: list[MeetingTarget], db_url: str) -> list[Outcome]:
    finished = await asyncio.gather(*(cli_run(path, db_url) for path in paths))
    outcomes = []
    for server, (code, stdout, stderr) in zip(servers, finished, strict=True):
        assert stdout, f"no output (exit {code}): {stderr}"
        outcomes.append(Outcome(server.status, code, json.loads(stdout), stderr))
    return outcomes


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def assert_own_run(store: Store, outcome: Outcome) -> None:
    """The document and exit code are those of the run the process made itself."""
    document = outcome.document
    passing = outcome.expected_status == 200
    context = f"process probing a target answering {outcome.expected_status}: {outcome.stderr}"
    assert outcome.exit_code == (0 if passing else 1), context
    health = {item["id"]: item for item in document["items"]}["health"]
    assert health["observed"]["STATUS"] == outcome.expected_status, context
    assert health["status"] == ("PASS" if passing else "FAIL"), context
    assert health["run_id"] == document["run_id"], context
    assert document["results"]["this_run"] == ["health"], context
    assert document["results"]["earlier_runs"] == {}, context
    blockers = {b["subject"] for b in document["verdict"]["blockers"]}
    assert ("health" in blockers) is not passing, context

    run = await store.run(document["run_id"])
    assert run is not None and run.trigger == "cli", context
    stored = await store.run_results(run.id)
    assert stored["health"].observed["STATUS"] == outcome.expected_status, context
    assert _time(document["started_at"]) == run.started_at, context
    assert run.finished_at is not None and _time(document["finished_at"]) == run.finished_at, context


async def check_rounds(tmp_path: Path, db_url: str, processes: int) -> None:
    with targets(processes) as servers:
        paths = checklists(tmp_path, servers)
        store = await Store.open(db_url)
        try:
            seen_ids: set[int] = set()
            for round_number in range(ROUNDS):
                for n, server in enumerate(servers):
                    server.delay = DELAYS[(n + round_number) % len(DELAYS)]
                outcomes = await concurrent_round(paths, servers, db_url)
                ids = {o.document["run_id"] for o in outcomes}
                assert len(ids) == processes and not ids & seen_ids, "run ids are unique"
                seen_ids |= ids
                for outcome in outcomes:
                    await assert_own_run(store, outcome)
        finally:
            await store.close()


@pytest.mark.parametrize("processes", [2, 3])
async def test_concurrent_cli_runs_on_sqlite_each_report_their_own_run(
    tmp_path: Path, processes: int
) -> None:
    await check_rounds(tmp_path, f"sqlite:///{tmp_path / 'golive.db'}", processes)


@pytest.mark.services
@pytest.mark.parametrize("processes", [2, 3])
async def test_concurrent_cli_runs_on_postgresql_each_report_their_own_run(
    tmp_path: Path, postgres_database: PostgresDatabase, processes: int
) -> None:
    await check_rounds(tmp_path, postgres_database.url, processes)


class _ScheduledTarget(_Handler):
    """The scheduled run's target: fails, and counts its probes."""

    server: CountingTarget

    def do_GET(self) -> None:
        with self.server.arrived:
            self.server.probes += 1
            self.server.arrived.notify_all()
        super().do_GET()


class CountingTarget(Target):
    probes = 0
    arrived: threading.Condition


class _CliTarget(_Handler):
    """The CLI run's target: passes, but only once a scheduled probe has arrived after
    its own and had time to be stored, so that the scheduled FAIL is the newest
    observation when the CLI run finishes."""

    server: AfterScheduledTarget

    def do_GET(self) -> None:
        scheduled = self.server.scheduled
        with scheduled.arrived:
            seen = scheduled.probes
            scheduled.arrived.wait_for(lambda: scheduled.probes > seen, timeout=MEETING_TIMEOUT)
        time.sleep(scheduled.delay + 1.0)
        super().do_GET()


class AfterScheduledTarget(Target):
    scheduled: CountingTarget


@contextmanager
def serving(server: Target) -> Iterator[Target]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def test_a_cli_run_beside_the_schedule_of_golive_serve_reports_its_own_run(tmp_path: Path) -> None:
    """``golive serve`` runs its schedule against a failing target every two seconds while
    CLI runs probe a passing one: each CLI run exits 0 with its own PASS, although a
    scheduled run observed and stored a FAIL after it while it ran."""
    db_url = f"sqlite:///{tmp_path / 'golive.db'}"
    slack = await FakeSlack().start()
    failing = CountingTarget(("127.0.0.1", 0), _ScheduledTarget)
    failing.status, failing.delay, failing.arrived = 503, 0.5, threading.Condition()
    passing = AfterScheduledTarget(("127.0.0.1", 0), _CliTarget)
    passing.scheduled = failing
    with serving(failing), serving(passing):
        serve_folder, cli_folder = tmp_path / "serve", tmp_path / "cli"
        serve_folder.mkdir()
        cli_folder.mkdir()
        schedule = {"schedule": {"interval": "2s"}}
        scheduled = checklist_file(serve_folder, failing.server_address[1], extra=schedule)
        own = checklist_file(cli_folder, passing.server_address[1], extra={"defaults": {"timeout": "60s"}})
        store = await Store.open(db_url)
        try:
            async with serve_process(serve_folder, scheduled, slack, db_url=db_url):
                for _ in range(ROUNDS):
                    code, stdout, stderr = await cli_run(own, db_url)
                    outcome = Outcome(200, code, json.loads(stdout), stderr)
                    await assert_own_run(store, outcome)
                    run_id = outcome.document["run_id"]
                    assert await _newer_scheduled_failure(store, run_id), "no scheduled FAIL beside it"
        finally:
            await store.close()
            await slack.stop()


async def _newer_scheduled_failure(store: Store, run_id: int) -> bool:
    """Whether a scheduled run observed a FAIL after this run's probe, before it finished:
    what today's status shows instead of the run's own PASS."""
    mine = await store.run(run_id)
    assert mine is not None and mine.finished_at is not None
    own = (await store.run_results(run_id))["health"]
    release = await store.release_id(*RELEASE)
    for observed_in, result in await store.item_history(release, "health"):
        if observed_in == run_id:
            continue
        if own.checked_at < result.checked_at < mine.finished_at and result.status == "FAIL":
            return True
    return False
