"""A real ``golive serve`` as a GitHub App's deployment protection rule: the delivery
comes in on its HTTP port, and its leader answers GitHub once the release is GO."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx

from .fake_github import APP_ID, WEBHOOK_SECRET, FakeGitHub, pem, private_key, protection_delivery
from .gate_support import CI_TOKEN, DEVOPS, TOKENS, gate_checklist, target
from .serve_process import API_KEY, API_KEY_ENV, checklist_with_secret, environment, key_target, serve_process


async def golive(folder: Path, *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "golive", *args,
        env=environment({}), cwd=folder,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, out.decode()


async def test_serve_answers_github_once_the_release_is_go(tmp_path: Path) -> None:
    key = private_key()
    (tmp_path / "app.pem").write_bytes(pem(key))
    github = await FakeGitHub(key.public_key()).start()
    env = {
        "GOLIVE_API_TOKENS": TOKENS,
        "GOLIVE_GITHUB_APP_ID": APP_ID,
        "GOLIVE_GITHUB_PRIVATE_KEY_FILE": str(tmp_path / "app.pem"),
        "GOLIVE_GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET.decode(),
        "GOLIVE_GITHUB_API_URL": github.url,
        "GOLIVE_VERDICT_SECONDS": "1",
    }
    try:
        with target() as server:
            checklist = gate_checklist(tmp_path, server.server_address[1])
            async with serve_process(tmp_path, checklist, None, env) as served, httpx.AsyncClient() as http:
                body, headers = protection_delivery(github, delivery="serve-1")
                answer = await http.post(served.url + "/github/webhook", content=body, headers=headers)
                assert answer.status_code == 202, answer.text
                db = ("--db", served.db_url, "-c", str(checklist))
                await golive(tmp_path, "run", *db)
                await asyncio.sleep(2.5)  # rounds of the leader on NO-GO: nothing sent
                assert github.answers == []
                await golive(tmp_path, "signoff", "devops", "--by", DEVOPS, *db)
                deadline = time.monotonic() + 60
                while not github.answers and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                await asyncio.sleep(2.5)  # further rounds send nothing more
                assert await served.terminate() == 0
        [sent] = github.answers
        assert sent.body["state"] == "approved"
        assert "GO on run #1 for Shop 2.0.0" in sent.body["comment"]
        assert github.refused == []
    finally:
        await github.stop()


async def test_the_verdict_api_never_answers_a_secret(tmp_path: Path) -> None:
    """A target that echoes the API key it got puts the key into the check's message:
    stored and served redacted."""
    with key_target() as server:
        checklist = checklist_with_secret(tmp_path, server.server_address[1])
        env = {"GOLIVE_API_TOKENS": TOKENS, API_KEY_ENV: API_KEY}
        async with serve_process(tmp_path, checklist, None, env) as served, httpx.AsyncClient() as http:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "golive", "run", "-c", str(checklist), "--db", served.db_url,
                env=environment({API_KEY_ENV: API_KEY}), cwd=tmp_path,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.wait_for(process.wait(), 90)
            headers = {"Authorization": f"Bearer {CI_TOKEN}"}
            verdict = await http.get(served.url + "/api/v1/verdict", headers=headers)
            run = await http.get(served.url + f"/api/v1/runs/{verdict.json()['run_id']}", headers=headers)
    for answer in (verdict, run):
        assert answer.status_code == 200
        assert "[BODY].key" in answer.text  # the failing condition is reported…
        assert API_KEY not in answer.text  # …without the key it saw
