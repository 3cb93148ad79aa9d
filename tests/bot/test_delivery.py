"""A claimed notification whose post fails: released and posted later when Slack
certainly did not post it (it refused it, or could not be reached); when Slack may have
posted it (the connection closed, no answer, a 5xx), it is looked up in the channel's
history and posted exactly once, also across a restart and a change of leader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from golive.bot.core.delivery import EVENT_TYPE, LEASE, Delivery, deliver, resume_outbox
from golive.bot.render.blocks import Message
from golive.bot.slack.client import web_client
from golive.bot.slack.surface import SlackSurface, certainly_not_posted
from golive.storage import Store
from tests.services.postgres import PostgresDatabase

from .fake_slack import BOT_TOKEN, FakeSlack
from .watch_support import CHANNEL, T0, World, minutes, world

#: Slack refuses the post (the bot is not in the channel yet): nothing was posted.
REFUSED = ("error:not_in_channel",)


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
        def __init__(self, status_code: int, error: str) -> None:
            self.status_code = status_code
            self.data = {"ok": False, "error": error}

    refusal = SlackApiError("failed", Answer(200, "channel_not_found"))  # type: ignore[no-untyped-call]
    assert certainly_not_posted(refusal)
    limited = SlackApiError("failed", Answer(429, "ratelimited"))  # type: ignore[no-untyped-call]
    assert certainly_not_posted(limited)
    broken = SlackApiError("failed", Answer(500, "internal_error"))  # type: ignore[no-untyped-call]
    assert not certainly_not_posted(broken), "a 5xx may come after the post was applied"
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("slack.test", 443, True, True, None, None, None),
        ConnectionRefusedError(111, "Connection refused"),
    )
    assert certainly_not_posted(refused)
    assert not certainly_not_posted(TimeoutError()), "sent, no answer: it may be posted"
    assert not certainly_not_posted(aiohttp.ServerDisconnectedError())


# -- a post Slack may have taken -------------------------------------------------------

GO = ":rocket: GO for Shop"
#: Seconds the Slack client waits for an answer in these tests (15 in production).
ANSWER_WITHIN = 1


def quick(w: World) -> None:
    """Let the current process's Slack client give up on an answer after ANSWER_WITHIN."""
    surface = w.notifier.surface
    assert isinstance(surface, SlackSurface)
    surface.client.timeout = ANSWER_WITHIN


def go_posts(slack: FakeSlack) -> list[str]:
    """The GO messages people in the channel see."""
    return [m["ts"] for m in slack.channel_posts(CHANNEL, GO)]


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(("applied-reset",), id="taken-then-connection-closed"),
        pytest.param(("applied-reset", "applied-reset"), id="taken-then-closed-twice"),
        pytest.param(("applied-500",), id="taken-then-500"),
        pytest.param(("applied-hang",), id="taken-then-no-answer"),
        pytest.param(("hang",), id="not-taken-no-answer"),
        pytest.param(("500",), id="not-taken-500"),
    ],
)
async def test_a_go_whose_answer_is_lost_is_posted_exactly_once(w: World, faults: tuple[str, ...]) -> None:
    quick(w)
    w.slack.fail_next("chat.postMessage", *faults)
    await w.reach_go(T0)
    [posted] = w.slack.channel_posts(CHANNEL, GO)
    assert posted["metadata"]["event_type"] == EVENT_TYPE
    assert posted["metadata"]["event_payload"]["key"] == "go:0"
    release = await w.store.release_id("Shop", "2.0.0")
    assert await w.store.pending_outbox(release) == []

    await w.restart()
    await w.run(T0 + minutes(15))
    assert not await w.announce()
    assert len(go_posts(w.slack)) == 1


async def test_a_regression_alert_whose_connection_closed_is_posted_once(w: World) -> None:
    await w.run(T0)
    w.target.set("health", 500, "DOWN")
    w.slack.fail_next("chat.postMessage", "applied-reset")
    await w.run(T0 + minutes(15))
    assert len(w.slack.channel_posts(CHANNEL, "Regression")) == 1
    await w.run(T0 + minutes(30))
    await w.restart()
    await w.run(T0 + minutes(45))
    assert len(w.slack.channel_posts(CHANNEL, "Regression")) == 1


@pytest.mark.parametrize("taken", [True, False], ids=["taken", "not-taken"])
async def test_a_go_left_in_doubt_is_settled_after_a_restart(w: World, taken: bool) -> None:
    # The post's answer is lost and the history cannot be read either (the client's
    # two retries of a 500 included): nothing tells whether the channel has it.
    w.slack.fail_next("chat.postMessage", "applied-reset" if taken else "500")
    w.slack.fail_next("conversations.history", "500", "500", "500")
    await w.reach_go(T0)
    assert len(go_posts(w.slack)) == (1 if taken else 0)
    release = await w.store.release_id("Shop", "2.0.0")
    [left] = await w.store.pending_outbox(release)
    assert left.claim == "go:0" and left.attempts == 1

    await w.restart()
    await w.run(T0 + minutes(15))  # after the run, the outbox is resumed first
    assert len(go_posts(w.slack)) == 1
    assert await w.store.pending_outbox(release) == []
    await w.run(T0 + minutes(30))
    assert not await w.announce()
    assert len(go_posts(w.slack)) == 1


async def test_a_process_stopped_mid_post_holds_its_message_until_its_lease_ends(w: World) -> None:
    w.slack.fail_next("chat.postMessage", "applied-hang")
    stopped = asyncio.create_task(w.reach_go(T0))
    await w.slack.wait_for("auth.test", 0)  # let it start
    while not go_posts(w.slack):
        await asyncio.sleep(0.02)
    stopped.cancel()  # the process dies while waiting for Slack's answer
    await asyncio.gather(stopped, return_exceptions=True)

    await w.restart()
    await w.run(T0 + minutes(15))
    release = await w.store.release_id("Shop", "2.0.0")
    assert len(await w.store.pending_outbox(release)) == 1, "the lease of the dead process stands"
    after_lease = datetime.now(UTC) + LEASE
    assert await resume_outbox(w.store, w.notifier.surface, release, now=after_lease) == 1
    assert await w.store.pending_outbox(release) == []
    assert len(go_posts(w.slack)) == 1


async def test_the_history_is_searched_across_pages_from_the_claim_time(w: World) -> None:
    surface = w.notifier.surface
    assert isinstance(surface, SlackSurface)
    since = datetime.now(UTC)
    await surface.post(
        CHANNEL, Message("tagged"), metadata={"event_type": EVENT_TYPE, "event_payload": {"token": "t1"}}
    )
    for index in range(450):  # three pages of 200 above it
        w.slack._answer("chat.postMessage", {"channel": CHANNEL, "text": f"chatter {index}"})
    found = await surface.find_post(CHANNEL, EVENT_TYPE, "t1", since)
    assert found == w.slack.channel_posts(CHANNEL, "tagged")[0]["ts"]
    assert await surface.find_post(CHANNEL, EVENT_TYPE, "t2", since) is None
    assert await surface.find_post(CHANNEL, EVENT_TYPE, "t1", datetime.now(UTC)) is None, "older than oldest"
    histories = [c.params for c in w.slack.ok_calls("conversations.history")]
    assert histories[0]["include_all_metadata"] in ("1", "true")
    assert len(histories) == 3 + 3 + 1


@pytest.mark.services
@pytest.mark.parametrize("taken", [True, False], ids=["taken", "not-taken"])
async def test_a_new_leader_posts_what_a_paused_leader_left_exactly_once(
    postgres_database: PostgresDatabase, taken: bool
) -> None:
    slack = await FakeSlack().start()
    old = await Store.open(postgres_database.url)
    new = await Store.open(postgres_database.url)
    try:
        old_surface = SlackSurface(web_client(BOT_TOKEN, slack.api_url))
        old_surface.client.timeout = 3  # the paused leader's answer comes after the takeover
        new_surface = SlackSurface(web_client(BOT_TOKEN, slack.api_url))
        release = await old.release_id("Shop", "2.0.0")
        assert await old.claim_notification(release, "go:0", at=T0)
        slack.fail_next("chat.postMessage", "applied-hang" if taken else "hang")
        message = Message(GO, [])
        paused = asyncio.create_task(deliver(old, release, ["go:0"], "GO", old_surface, CHANNEL, [message]))
        while not [c for c in slack.calls if c.method == "chat.postMessage"]:
            await asyncio.sleep(0.02)

        assert await resume_outbox(new, new_surface, release) == 0, "the old leader's lease stands"
        assert await resume_outbox(new, new_surface, release, now=datetime.now(UTC) + LEASE) == 1
        assert len(go_posts(slack)) == 1
        assert await paused is Delivery.SENT, "the old leader finds its message in the history"
        assert len(go_posts(slack)) == 1
        assert await new.pending_outbox(release) == []
    finally:
        await old.close()
        await new.close()
        await slack.stop()


async def test_the_client_does_not_repeat_a_post_whose_connection_closed(w: World) -> None:
    surface = w.notifier.surface
    assert isinstance(surface, SlackSurface)
    w.slack.fail_next("chat.postMessage", "applied-reset")
    with pytest.raises(aiohttp.ClientError):
        await surface.post(CHANNEL, Message("once"))
    assert len(w.slack.channel_posts(CHANNEL, "once")) == 1, "not sent again blindly"
    w.slack.fail_next("chat.update", "applied-reset")  # an edit is safe to repeat
    ts = await surface.post(CHANNEL, Message("edited"))
    await surface.update(CHANNEL, ts, Message("edited twice"))
    assert [c.status for c in w.slack.calls if c.method == "chat.update"] == [0, 200]
