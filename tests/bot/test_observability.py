"""Metrics and logs of the real ``golive serve`` process: a run from Slack, then /metrics
scraped and every stderr line read back."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from .fake_slack import BOT_TOKEN, FakeSlack
from .serve_process import (
    API_KEY,
    API_KEY_ENV,
    ServeProcess,
    checklist_with_secret,
    command,
    environment,
    key_target,
    scrape,
    serve_process,
    value,
)
from .slack_support import SIGNING_SECRET


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()


async def test_a_run_from_slack_shows_in_metrics_and_in_json_logs_with_its_run_id(
    tmp_path: Path, slack: FakeSlack
) -> None:
    started = time.time()
    with key_target() as target:
        checklist = checklist_with_secret(tmp_path, target.server_address[1])
        env = {API_KEY_ENV: API_KEY}
        async with (
            serve_process(tmp_path, checklist, slack, env) as served,
            httpx.AsyncClient(timeout=10) as http,
        ):
            ready = await _wait_ready(http, served.url)
            assert ready == {
                "ready": True,
                "checks": {"database": "ok", "slack": "ok", "shutdown": "ok"},
                "not_ready": [],
            }
            # The first progress edit is rate limited once: slack_sdk retries after
            # Retry-After, and logs that through the standard library, inside the run.
            slack.fail_next("chat.update", "429")
            assert (await command(http, served, "run")).status_code == 200
            await slack.wait_for("files.completeUploadExternal", 1, timeout=60)  # one phase, one chart
            await _wait_for_log(served, "run completed")
            # Help's answer: its response_url refuses the connection, and the ephemeral
            # post it falls back to fails three times (two retries, then given up).
            slack.fail_next("chat.postEphemeral", "500", "500", "500")
            assert (await command(http, served, "help")).status_code == 200
            await _wait_for_log(served, "could not answer")
            samples = await scrape(http, served.url)
            assert await served.terminate() == 0

    # -- metrics ------------------------------------------------------------------------
    assert value(samples, "golive_runs_started_total", trigger="slack") == 1
    assert value(samples, "golive_runs_completed_total", trigger="slack") == 1
    assert value(samples, "golive_runs_aborted_total", trigger="slack") == 0
    assert value(samples, "golive_runs_in_flight") == 0
    assert value(samples, "golive_run_duration_seconds_count", trigger="slack") == 1
    assert value(samples, "golive_run_last_completed_timestamp_seconds") >= started
    assert value(samples, "golive_probe_duration_seconds_count", probe_type="http") == 1
    assert value(samples, "golive_probe_duration_seconds_sum", probe_type="http") > 0
    # health FAILs (503), the runbook is manual and nobody confirmed it.
    assert value(samples, "golive_items", status="FAIL") == 1
    assert value(samples, "golive_items", status="PENDING") == 1
    assert value(samples, "golive_items", status="PASS") == 0
    assert value(samples, "golive_verdict_go") == 0
    assert value(samples, "golive_leader") == 1
    posts = len(slack.ok_calls("chat.postMessage"))
    assert posts >= 2
    assert value(samples, "golive_slack_api_calls_total", method="chat.postMessage") == posts
    assert value(samples, "golive_slack_api_calls_total", method="auth.test") == 1
    retries, errors = "golive_slack_api_retries_total", "golive_slack_api_errors_total"
    assert value(samples, retries, method="chat.update", reason="ratelimited") == 1
    assert value(samples, retries, method="chat.postEphemeral", reason="http_500") == 2
    assert value(samples, errors, method="chat.postEphemeral", error="http_500") == 1
    # The answer that could not be delivered is logged, not answered with another.
    assert value(samples, "golive_slack_api_calls_total", method="chat.postEphemeral") == 1
    assert value(samples, "golive_slack_api_calls_total", method="response_url") == 1
    assert value(samples, errors, method="response_url", error="ClientConnectorError") == 1

    # -- logs ---------------------------------------------------------------------------
    records = served.log_records()  # fails on any line that is not JSON
    assert all({"event", "level", "timestamp", "logger"} <= set(r) for r in records)
    events = [r["event"] for r in records]
    first, last = events.index("run started"), events.index("run completed")
    run_id = records[first]["run_id"]
    during = records[first : last + 1]
    assert all(r.get("run_id") == run_id for r in during), [r for r in during if "run_id" not in r]
    assert {r["item"]: r["status"] for r in during if r["event"] == "item decided"} == {
        "health": "FAIL",
        "runbook": "PENDING",
    }
    retry_lines = [r for r in during if r["logger"].startswith("slack_sdk")]
    assert retry_lines, "the 429 retry is logged by slack_sdk through the standard library"
    assert records[last]["verdict"] == "NO-GO"
    failure = next(r for r in records if r["event"] == "slack api call failed")
    assert (failure["method"], failure["error"]) == ("chat.postEphemeral", "http_500")
    assert "run_id" not in failure, "help is not part of a run"
    unanswered = next(r for r in records if r["event"] == "could not answer")
    assert (unanswered["error"], "exception" in unanswered) == ("SlackApiError", False)

    # -- no secret anywhere ---------------------------------------------------------------
    health = next(r for r in during if r.get("item") == "health")
    assert "[REDACTED]" in health["message"], "the echoed key reached the log line, redacted"
    text = served.stderr.read_text(encoding="utf-8")
    for secret in (API_KEY, BOT_TOKEN, SIGNING_SECRET):
        assert secret not in text


def test_golive_run_keeps_stdout_for_its_output_and_logs_json_to_stderr(tmp_path: Path) -> None:
    """Debug level: every library's lines, the probe's request among them; still no secret."""
    with key_target() as target:
        checklist = checklist_with_secret(tmp_path, target.server_address[1])
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "golive",
                "run",
                "--checklist",
                str(checklist),
                "--format",
                "json",
                "--db",
                f"sqlite:///{tmp_path / 'golive.db'}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=environment({API_KEY_ENV: API_KEY, "GOLIVE_LOG_LEVEL": "DEBUG"}),
            cwd=tmp_path,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    records = [json.loads(line) for line in done.stderr.splitlines()]
    loggers = {r["logger"] for r in records}
    assert {"golive.bot.core.progress", "golive.checks.families.http", "alembic.runtime.migration"} <= loggers
    requests = [r["event"] for r in records if r["logger"] == "golive.checks.families.http"]
    assert any(event.startswith('HTTP Request: GET http://127.0.0.1:') for event in requests)
    run_lines = [r for r in records if r["logger"] == "golive.bot.core.progress"]
    assert {r["event"] for r in run_lines} == {"run started", "item decided", "run completed"}
    assert all(r["run_id"] == document["run_id"] for r in run_lines)
    assert API_KEY not in done.stderr and API_KEY not in done.stdout


async def _wait_ready(http: httpx.AsyncClient, url: str, timeout: float = 30) -> object:
    """/readyz once HTTP mode's auth.test has gone through."""
    deadline = time.monotonic() + timeout
    while True:
        response = await http.get(f"{url}/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response.json()
        await asyncio.sleep(0.1)


async def _wait_for_log(served: ServeProcess, event: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(r.get("event") == event for r in served.log_records()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line {event!r}")
        await asyncio.sleep(0.1)
