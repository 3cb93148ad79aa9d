"""Slack misbehaving while the bot works: 429 with Retry-After, 500, requests that hang.

Edits and reads are retried with backoff; a post is retried only when Slack said it did
not take it (429, 500), never after a timeout, when it may have posted already: no post
appears twice. Whatever Slack does, every result of a run is stored."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot.fake_slack import Call
from tests.bot.slack_support import CHANNEL, STRANGER, Harness, harness

#: Seconds the bot's client waits for Slack here (15 in production), so a hang is short.
TIMEOUT = 1


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as built:
        built.bot.client.timeout = TIMEOUT
        yield built


def top_level_posts(h: Harness) -> list[Call]:
    return [c for c in h.slack.ok_calls("chat.postMessage") if not c.params.get("thread_ts")]


async def stored_items(h: Harness) -> set[str]:
    runs = await h.store.runs(await h.store.release_id("Shop", "2.0.0"))
    assert len(runs) == 1 and runs[0].status == "complete"
    return set(await h.store.run_results(runs[0].id))


async def test_rate_limits_on_edits_and_uploads_are_waited_out(h: Harness) -> None:
    h.slack.fail_next("chat.update", "429")
    h.slack.fail_next("files.getUploadURLExternal", "429")
    started = time.perf_counter()
    await h.command("run")
    await h.settle()
    assert time.perf_counter() - started >= 1.0, "Retry-After: 1 was honoured"
    assert len(top_level_posts(h)) == 1
    assert "NO-GO" in h.slack.ok_calls("chat.update")[-1].params["text"]
    assert len(h.slack.ok_calls("files.completeUploadExternal")) == 1  # one chart for the one phase
    assert [c.status for c in h.slack.calls if c.method == "files.getUploadURLExternal"][:2] == [429, 200]
    assert await stored_items(h) == {"health", "runbook"}


async def test_server_errors_are_retried_once_each(h: Harness) -> None:
    # Help's response_url fails; the ephemeral post it falls back to is retried once.
    h.slack.fail_next("response_url", "500")
    h.slack.fail_next("chat.postEphemeral", "500")
    h.slack.fail_next("chat.update", "500", "500")
    await h.command("help", user=STRANGER)
    await h.command("run")
    await h.settle()
    assert [c.status for c in h.slack.calls if c.method == "response_url"] == [500]
    assert [c.status for c in h.slack.calls if c.method == "chat.postEphemeral"] == [500, 200]
    assert len(top_level_posts(h)) == 1
    assert h.slack.ok_calls("chat.update"), "the run message was edited after the 500s"


async def test_a_hanging_edit_is_retried(h: Harness) -> None:
    h.slack.fail_next("chat.update", "hang")
    await h.command("run")
    await h.settle()
    updates = [c.status for c in h.slack.calls if c.method == "chat.update"]
    assert updates[:2] == [0, 200], updates
    assert "NO-GO" in h.slack.ok_calls("chat.update")[-1].params["text"]
    assert len(top_level_posts(h)) == 1


async def test_a_hanging_post_is_not_repeated_and_the_run_goes_on(h: Harness) -> None:
    """The run message got no answer: Slack may have it. golive does not post it again
    at once; it posts the final state when the run is done (the fake Slack did not keep
    the hung one), threads the summaries under it, and stores every result."""
    h.slack.fail_next("chat.postMessage", "hang")
    await h.command("run")
    await h.settle()
    attempts = [c for c in h.slack.calls if c.method == "chat.postMessage" and not c.params.get("thread_ts")]
    assert [c.status for c in attempts] == [0, 200]
    final = attempts[1].params["text"]
    assert "finished" in final and "NO-GO" in final
    thread = [c for c in h.slack.ok_calls("chat.postMessage") if c.params.get("thread_ts")]
    assert thread and "P1: Staging" in thread[0].params["text"]
    assert await stored_items(h) == {"health", "runbook"}


async def test_slack_down_for_the_whole_run_loses_no_result(h: Harness) -> None:
    h.slack.fail_next("chat.postMessage", *["500"] * 30)
    await h.command("run")
    await h.settle()
    assert top_level_posts(h) == []
    assert await stored_items(h) == {"health", "runbook"}
    state_text = json.dumps([c.params for c in h.slack.calls if c.method == "chat.postMessage"])
    assert CHANNEL in state_text
