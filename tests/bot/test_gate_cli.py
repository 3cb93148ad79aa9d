"""``golive gate`` as a pipeline runs it: a child process asking a real ``golive serve``
(or the database), waiting for GO while people sign off."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .gate_support import CI_TOKEN, DEVOPS, TOKENS, gate_checklist, target
from .serve_process import ServeProcess, environment, serve_process

GATE_SECONDS = 90


@dataclass
class Setup:
    served: ServeProcess
    checklist: Path
    folder: Path


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    with target() as server:
        checklist = gate_checklist(tmp_path, server.server_address[1])
        async with serve_process(tmp_path, checklist, None, {"GOLIVE_API_TOKENS": TOKENS}) as served:
            yield Setup(served, checklist, tmp_path)


async def golive(setup: Setup, *args: str, token: str | None = CI_TOKEN) -> tuple[int, str, str]:
    env = {"GOLIVE_API_TOKEN": token} if token is not None else {}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "golive", *args,
        env=environment(env), cwd=setup.folder,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), GATE_SECONDS)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def run_checklist(setup: Setup) -> None:
    code, out, err = await golive(setup, "run", "-c", str(setup.checklist), "--db", setup.served.db_url)
    assert code == 0, out + err


async def sign_off(setup: Setup) -> None:
    args = ("signoff", "devops", "--by", DEVOPS, "-c", str(setup.checklist), "--db", setup.served.db_url)
    code, out, err = await golive(setup, *args)
    assert code == 0, out + err


async def test_gate_waits_for_the_sign_off_then_passes(setup: Setup) -> None:
    await run_checklist(setup)
    env = environment({"GOLIVE_API_TOKEN": CI_TOKEN})
    args = ("gate", "--url", setup.served.url, "--timeout", "80s", "--interval", "0.2s")
    gate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "golive", *args,
        env=env, cwd=setup.folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert gate.stdout is not None
    waiting = [(await asyncio.wait_for(gate.stdout.readline(), 30)).decode() for _ in range(2)]
    assert waiting[0].startswith("Shop 2.0.0: NO-GO (run #1)")
    assert "blocked by signoff:devops (PENDING): not signed" in waiting[1]
    assert gate.returncode is None  # still waiting
    await sign_off(setup)
    rest, _ = await asyncio.wait_for(gate.communicate(), GATE_SECONDS)
    assert gate.returncode == 0, rest
    assert rest.decode().splitlines()[-1] == "Shop 2.0.0: GO (run #1)"


async def test_gate_says_no_go_at_its_timeout(setup: Setup) -> None:
    await run_checklist(setup)
    code, out, _ = await golive(
        setup, "gate", "--url", setup.served.url, "--timeout", "2s", "--interval", "0.3s"
    )
    assert code == 1
    assert "blocked by signoff:devops" in out
    assert out.splitlines()[-1] == "not GO after 2s: NO-GO"


async def test_gate_refuses_a_go_on_old_results(setup: Setup) -> None:
    await run_checklist(setup)
    await sign_off(setup)
    fresh = await golive(setup, "gate", "--url", setup.served.url, "--require-run-newer-than", "10m")
    assert fresh[0] == 0, fresh
    await asyncio.sleep(2.5)
    args = ("gate", "--url", setup.served.url, "--require-run-newer-than", "2s", "--timeout", "1s")
    code, out, _ = await golive(setup, *args)
    assert code == 1, out
    assert "GO on old results" in out
    assert "more than 2s ago (--require-run-newer-than): run the checklist again" in out


async def test_gate_errors_on_a_wrong_token_or_a_missing_one(setup: Setup) -> None:
    await run_checklist(setup)
    code, out, _ = await golive(setup, "gate", "--url", setup.served.url, token="not-the-token-at-all")
    assert code == 2
    assert "refused the token (401): check GOLIVE_API_TOKEN" in out
    assert "not-the-token" not in out
    code, out, _ = await golive(setup, "gate", "--url", setup.served.url, token=None)
    assert (code, out.strip()) == (2, "error: --url needs a token: set GOLIVE_API_TOKEN")


async def test_gate_asks_the_database_directly(setup: Setup) -> None:
    await run_checklist(setup)
    db = ("--db", setup.served.db_url)
    code, out, _ = await golive(setup, "gate", *db, "--timeout", "1s", "--phase", "pre")
    assert (code, out.strip()) == (0, "Shop 2.0.0: GO (run #1)")
    code, out, _ = await golive(setup, "gate", *db, "--timeout", "1s")
    assert code == 1
    await sign_off(setup)
    assert (await golive(setup, "gate", *db, "--timeout", "1s"))[0] == 0


async def test_gate_errors_when_golive_cannot_be_reached(setup: Setup) -> None:
    args = ("gate", "--url", "http://127.0.0.1:9", "--timeout", "1s", "--interval", "0.2s")
    code, out, _ = await golive(setup, *args)
    assert code == 2
    assert "waiting: http://127.0.0.1:9/api/v1/verdict cannot be reached: ConnectError" in out
    assert "error: no verdict within" in out
