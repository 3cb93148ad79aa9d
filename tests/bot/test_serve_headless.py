"""``golive serve`` without any Slack credentials still runs the schedule: the real process
stores its scheduled runs, logs what it would have posted and counts it in /metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from golive.storage import RunInfo, Store

from .serve_process import key_target, scrape, serve_process, value
from .slack_support import checklist_file

pytestmark = pytest.mark.services

WAIT = 60.0


async def _scheduled_run(store: Store, release_id: int) -> RunInfo | None:
    for run in await store.runs(release_id):
        if run.trigger == "schedule" and run.status == "complete":
            return run
    return None


async def test_serve_without_slack_runs_the_schedule_and_logs_its_posts(tmp_path: Path) -> None:
    with key_target() as target:
        checklist = checklist_file(tmp_path, target.server_port, extra={"schedule": {"interval": "1s"}})
        async with serve_process(tmp_path, checklist, None) as served:
            store = await Store.open(served.db_url)
            try:
                release_id = await store.release_id("Shop", "2.0.0")
                deadline = time.monotonic() + WAIT
                run = await _scheduled_run(store, release_id)
                while run is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                    run = await _scheduled_run(store, release_id)
            finally:
                await store.close()
            assert run is not None, "no scheduled run stored:\n" + "\n".join(served.log_lines()[-30:])

            would_post = [r for r in served.log_records() if r.get("event") == "would post in Slack"]
            assert any(r["kind"] == "post" and f"#{run.id}" in r["text"] for r in would_post), would_post[-5:]
            async with httpx.AsyncClient(timeout=5) as http:
                samples = await scrape(http, served.url)
            assert value(samples, "golive_console_messages_total", kind="post") >= 1
            assert await served.terminate() == 0
