"""golive killed in the middle of a run (SIGKILL: no cleanup, no finally): what it had
stored stays, sign-offs and confirmations given before are intact, and a ``golive serve``
marks the run aborted, once the killed process's replica lease has lapsed, instead of
leaving it "running" forever."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from golive.bot.core import usecases
from golive.checks.loader import load
from golive.storage import Store
from tests.services import free_port

from .targets import Target, target

DEVOPS, OPS = "U0DEVOPS", "U00OPS"
#: Seconds the killed process's replica lease stands: its run is an orphan after that.
LEASE = "2"


@pytest.fixture
def slow() -> Iterator[Target]:
    with target() as served:
        yield served


def write_checklist(folder: Path, url: str, slow_seconds: int = 60) -> Path:
    items = [
        {"id": "health", "title": "Health", "probe": {"type": "http", "url": f"{url}/ok"}},
        {"id": "runbook", "title": "Runbook erstellt", "owner": "ops", "probe": {"type": "manual"}},
    ]
    slow = {
        "id": "slow",
        "title": "Slow",
        "probe": {"type": "http", "url": f"{url}/slow-{slow_seconds}"},
        "timeout": "90s",
    }
    document = {
        "release": {"name": "Shop", "version": "2.0.0"},
        "signoffs": [
            {"id": "devops", "title": "DevOps-Team", "approvers": {"users": [DEVOPS]}},
            {"id": "ops", "title": "Operations", "approvers": {"users": [OPS]}},
        ],
        "phases": [
            {
                "id": "p1",
                "title": "P1",
                "owner": "devops",
                "sections": [{"id": "s1", "title": "S1", "items": items}],
            },
            {
                "id": "p2",
                "title": "P2 (slow)",
                "owner": "devops",
                "sections": [{"id": "s2", "title": "S2", "items": [slow]}],
            },
        ],
    }
    path = folder / "checklist.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def golive(*args: str, folder: Path, wait: bool = True, **env: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GOLIVE_"))}
    environment.update(
        GOLIVE_CHECKLIST=str(folder / "checklist.yaml"),
        GOLIVE_DB_URL=f"sqlite:///{folder / 'golive.db'}",
        **env,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "golive", *args],
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if wait:
        out, err = process.communicate(timeout=120)
        process.stdout, process.stderr = io.StringIO(out), io.StringIO(err)
    return process


async def _wait_for_running_run(store: Store, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        release = await store.release_id("Shop", "2.0.0")
        for run in await store.runs(release):
            if run.status == "running" and "health" in await store.run_results(run.id):
                return run.id
        await asyncio.sleep(0.1)
    raise AssertionError("no run in flight with a stored result")


async def test_a_killed_run_is_marked_aborted_and_nothing_recorded_is_lost(
    tmp_path: Path, slow: Target
) -> None:
    checklist = load(write_checklist(tmp_path, slow.url), env={})
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    # Before: a complete run to sign on, a confirmation and a sign-off.
    await usecases.execute_run(checklist, store, phase="p1")
    await usecases.confirm_item(checklist, store, "runbook", user=OPS, evidence_url="https://wiki.example/rb")
    await usecases.sign_off(checklist, store, "devops", user=DEVOPS)

    running = golive("run", "--format", "json", folder=tmp_path, wait=False, GOLIVE_LEASE_SECONDS=LEASE)
    try:
        killed_run = await _wait_for_running_run(store)
        running.send_signal(signal.SIGKILL)
        assert running.wait(timeout=30) == -signal.SIGKILL

        # Started again: the bot's process (no Slack token: health and metrics only).
        port = free_port()
        serving = golive(
            "serve", folder=tmp_path, wait=False, PORT=str(port), HOST="127.0.0.1", GOLIVE_LEASE_SECONDS=LEASE
        )
        try:
            await _wait_healthy(port, serving)
            await _wait_for_status(store, killed_run, "aborted", timeout=float(LEASE) * 5)
        finally:
            serving.send_signal(signal.SIGTERM)
            serving.wait(timeout=60)
        log = serving.stderr.read() if serving.stderr else ""
        assert f"marked runs [{killed_run}] as aborted" in log, log[-2000:]

        release = await store.release_id("Shop", "2.0.0")
        info = await store.run(killed_run)
        assert info is not None and info.status == "aborted" and info.finished_at is not None
        assert set(await store.run_results(killed_run)) >= {"health"}, "what was stored before the kill stays"
        records = await store.records(release)
        assert [(c.item_id, c.user) for c in records.confirmations] == [("runbook", OPS)]
        assert [(s.role, s.user) for s in await store.signoffs(release) if s.revoked_at is None] == [
            ("devops", DEVOPS)
        ]
        state = await usecases.current_state(checklist, store)
        devops = next(r for r in state.verdict.signoffs if r.role == "devops")
        assert devops.holds, devops.reason
    finally:
        await store.close()


async def _wait_for_status(store: Store, run_id: int, status: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await store.run(run_id)
        if info is not None and info.status == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} not {status} within {timeout} s")


async def _wait_healthy(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("golive serve did not become healthy")


async def test_a_serve_leaves_the_run_of_a_live_cli_alone(tmp_path: Path, slow: Target) -> None:
    """The CLI renews a lease of its own while it runs: a `golive serve` on the same
    database (which aborts the runs of dead processes) must not take its run for one."""
    write_checklist(tmp_path, slow.url, slow_seconds=6)
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    running = golive("run", "--format", "json", folder=tmp_path, wait=False, GOLIVE_LEASE_SECONDS="1")
    port = free_port()
    serving = golive(
        "serve", folder=tmp_path, wait=False, PORT=str(port), HOST="127.0.0.1", GOLIVE_LEASE_SECONDS="1"
    )
    try:
        run_id = await _wait_for_running_run(store)
        await _wait_healthy(port, serving)
        await asyncio.sleep(3)  # three lease durations: an unrenewed lease would have lapsed
        info = await store.run(run_id)
        assert info is not None and info.status == "running", "a live run was taken for an orphan"
        _, err = running.communicate(timeout=60)
        assert running.returncode == 0, err[-2000:]
        info = await store.run(run_id)
        assert info is not None and info.status == "complete"
    finally:
        if running.poll() is None:
            running.kill()
        serving.send_signal(signal.SIGTERM)
        serving.wait(timeout=60)
        await store.close()
    log = serving.stderr.read() if serving.stderr else ""
    assert "as aborted" not in log, log[-2000:]
