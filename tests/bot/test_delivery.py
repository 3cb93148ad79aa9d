"""A claimed notification whose post fails: released and posted later when Slack
certainly did not post it (it answered with an error after the client's retries, or
could not be reached), kept when Slack may have posted it (a timeout)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from golive.bot.delivery import certainly_not_posted

from .watch_support import T0, World, minutes, world

#: The client retries a 500 twice: three answers of 500 make the post fail for good.
REFUSED = ("500", "500", "500")


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async with world(tmp_path) as built:
        yield built


async def test_an_alert_slack_refused_is_posted_after_the_next_run(w: World) -> None:
    await w.run(T0)
    w.target.set("health", 500, "DOWN")
    w.slack.fail_next("chat.postMessage", *REFUSED)
    await w.run(T0 + minutes(15))
    assert w.posts("Regression") == [], "Slack refused it"
    release = await w.store.release_id("Shop", "2.0.0")
    assert await w.store.count_notifications(release, "alert:") == 0, "the claim was released"

    await w.run(T0 + minutes(30))
    [alert] = w.posts("Regression")
    assert "run #3" in str(alert.params["blocks"])
    await w.restart()
    await w.run(T0 + minutes(45))
    assert len(w.posts("Regression")) == 1, "posted once, then not again"

    w.target.set("health", 200, "UP")
    await w.run(T0 + minutes(60))
    assert len(w.posts("Resolved")) == 1


async def test_a_go_slack_refused_is_announced_by_the_next_attempt(w: World) -> None:
    w.slack.fail_next("chat.postMessage", *REFUSED)
    await w.reach_go(T0)  # everything passes, both roles sign, GO is posted: refused
    assert w.posts(":rocket: GO for Shop") == []
    release = await w.store.release_id("Shop", "2.0.0")
    assert await w.store.count_notifications(release, "go:") == 0, "the claim was released"

    await w.run(T0 + minutes(15))
    assert await w.announce(), "the next attempt announces it"
    assert len(w.posts(":rocket: GO for Shop")) == 1
    await w.restart()
    assert not await w.announce(), "and only once"
    assert len(w.posts(":rocket: GO for Shop")) == 1


def test_what_counts_as_certainly_not_posted() -> None:
    class Answer:  # what SlackApiError carries: Slack's answer
        status_code = 500

        def __init__(self) -> None:
            self.data = {"ok": False, "error": "internal_error"}

    assert certainly_not_posted(SlackApiError("failed", Answer()))  # type: ignore[no-untyped-call]
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("slack.test", 443, True, True, None, None, None),
        ConnectionRefusedError(111, "Connection refused"),
    )
    assert certainly_not_posted(refused)
    assert not certainly_not_posted(TimeoutError()), "sent, no answer: it may be posted"
    assert not certainly_not_posted(TimeoutError())
    assert not certainly_not_posted(aiohttp.ServerDisconnectedError())
