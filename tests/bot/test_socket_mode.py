"""Socket Mode: a local WebSocket server sends Slack's envelopes; the bot acks each and acts."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from golive.bot.ops.metrics import METRICS
from golive.bot.serve.process import make_bot
from golive.bot.serve.settings import Settings
from golive.bot.serve.shutdown import bounded
from golive.bot.slack.app import build_app
from golive.bot.slack.link import SlackSocket
from golive.bot.slack.socket_mode import socket_client
from golive.checks.loader import load
from golive.storage import Store

from .fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack
from .serve_process import serve_process
from .slack_support import CHANNEL, DEVOPS, checklist_file


async def test_slash_command_over_socket_mode_is_acked_and_answered(tmp_path: Path) -> None:
    slack = await FakeSlack().start()
    slack.socket_envelopes.append(
        {
            "envelope_id": "env-1",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": {
                "token": "legacy-unused",
                "team_id": "T0TEST",
                "channel_id": CHANNEL,
                "user_id": DEVOPS,
                "command": "/golive",
                "text": "help",
                "api_app_id": "A0TEST",
                "response_url": slack.response_url(DEVOPS, CHANNEL),
                "trigger_id": "1.2.3",
            },
        }
    )
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    checklist = load(checklist_file(tmp_path, 9), env={})
    settings = Settings(
        bot_token=BOT_TOKEN,
        signing_secret=None,
        app_token=APP_TOKEN,
        api_url=slack.api_url,
        port=0,
        channel=CHANNEL,
    )
    bot = make_bot(checklist, store, settings)
    app = build_app(bot, None)
    handler = AsyncSocketModeHandler(app, APP_TOKEN, web_client=bot.client)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        for _ in range(200):
            if slack.socket_acks and slack.answers():
                break
            await asyncio.sleep(0.05)
        assert {"envelope_id": "env-1"} in [{"envelope_id": a.get("envelope_id")} for a in slack.socket_acks]
        assert len(slack.ok_calls("apps.connections.open")) == 1
        answer = slack.answers()[0]
        assert answer.method == "response_url" and "/golive run" in answer.params["text"]
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await asyncio.gather(*list(bot.tasks), return_exceptions=True)
        await store.close()
        await slack.stop()


def _envelope(envelope_id: str, slack: FakeSlack) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "team_id": "T0TEST",
            "channel_id": CHANNEL,
            "user_id": DEVOPS,
            "command": "/golive",
            "text": "help",
            "api_app_id": "A0TEST",
            "response_url": f"{slack.url}/webhook",
            "trigger_id": "1.2.3",
        },
    }


async def _until(what: str, check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_after_a_drop_every_attempt_uses_a_fresh_ticket_backing_off(tmp_path: Path) -> None:
    """Slack's connection URLs are good once and briefly: after a drop the client asks for
    a new one before every attempt, waits longer after each refusal, and says it is down
    (readiness, golive_slack_socket_connected) until it is back. A frame that is not JSON
    changes nothing; closing takes no more than its bound."""
    slack = await FakeSlack().start()
    slack.ticket_lifetime = 1.0
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    checklist = load(checklist_file(tmp_path, 9), env={})
    settings = Settings(BOT_TOKEN, None, APP_TOKEN, slack.api_url, 0, CHANNEL)
    bot = make_bot(checklist, store, settings)
    client = socket_client(build_app(bot, None), APP_TOKEN, bot.client, ping_interval=0.5)
    client.first_retry, client.max_retry = 0.2, 0.8
    readiness = SlackSocket(client)

    def connected_metric() -> float:
        return METRICS.registry.get_sample_value("golive_slack_socket_connected") or 0.0

    async def up() -> bool:
        return await readiness.problem() is None

    async def down() -> bool:
        return await readiness.problem() == "the Socket Mode connection is down"

    try:
        await client.connect()
        assert await up() and connected_metric() == 1.0
        slack.refuse_sockets = 3
        await slack.drop_sockets()
        await _until("the drop noticed", down, 5)
        assert connected_metric() == 0.0
        await _until("reconnected", up, 20)
        assert connected_metric() == 1.0

        attempts = slack.socket_attempts
        tickets = [ticket for _, ticket, _ in attempts]
        assert len(set(tickets)) == len(tickets), f"a ticket used twice: {tickets}"
        assert [accepted for *_, accepted in attempts] == [True, False, False, False, True]
        assert len(slack.ok_calls("apps.connections.open")) == len(attempts)
        waits = [b - a for (a, *_), (b, *_) in itertools.pairwise(attempts[1:])]
        assert waits[0] < waits[1] < waits[2] + 0.1 and waits[2] <= 0.8 + 0.5, waits

        await slack.send_frame("{not json")
        await slack.send_frame(json.dumps(_envelope("env-after-bad-frame", slack)))
        await _until(
            "the envelope after the bad frame acked",
            lambda: _acked(slack, "env-after-bad-frame"),
            10,
        )
        assert await up()
    finally:
        began = time.monotonic()
        await bounded("close the Socket Mode connection", client.close())
        assert time.monotonic() - began < 1.0
        await asyncio.gather(*list(bot.tasks), return_exceptions=True)
        await store.close()
        await slack.stop()
    assert connected_metric() == 0.0


async def _acked(slack: FakeSlack, envelope_id: str) -> bool:
    return any(a.get("envelope_id") == envelope_id for a in slack.socket_acks)


async def test_sigterm_in_socket_mode_after_reconnects_and_bad_frames_exits_promptly(tmp_path: Path) -> None:
    """The real ``golive serve`` in Socket Mode: dropped twice, fed a frame that is not
    JSON, then SIGTERM with nothing in flight exits 0 within seconds (every closing step
    is bounded), and none of it is logged as an error."""
    slack = await FakeSlack().start()
    slack.ticket_lifetime = 5.0
    try:
        checklist = checklist_file(tmp_path, 9)
        async with (
            serve_process(tmp_path, checklist, slack, {"SLACK_APP_TOKEN": APP_TOKEN}) as served,
            httpx.AsyncClient(timeout=5) as http,
        ):

            async def ready() -> bool:
                return (await http.get(f"{served.url}/readyz")).status_code == 200

            await _until("ready", ready, 30)
            for reconnects in (1, 2):
                await slack.drop_sockets()
                back = functools.partial(_sockets_accepted, slack, 1 + reconnects)
                await _until("reconnected", back, 30)
                await _until("ready again", ready, 30)
            await slack.send_frame("{not json")
            await slack.send_frame("[1, 2]")
            await slack.send_frame(json.dumps(_envelope("env-last", slack)))
            await _until("the last envelope acked", lambda: _acked(slack, "env-last"), 30)
            began = time.monotonic()
            assert await served.terminate(timeout=30) == 0
            took = time.monotonic() - began
    finally:
        await slack.stop()
    assert took < 5.0, f"exited {took:.1f} s after SIGTERM"
    records = served.log_records()
    ignored = [r for r in records if r["event"] == "Socket Mode: ignored a frame that is not a JSON object"]
    assert [r["level"] for r in ignored] == ["warning", "warning"]
    assert not [r for r in records if r["level"] in ("error", "critical")], [
        r for r in records if r["level"] in ("error", "critical")
    ]
    assert [accepted for *_, accepted in slack.socket_attempts] == [True, True, True]


async def _sockets_accepted(slack: FakeSlack, wanted: int) -> bool:
    return sum(accepted for *_, accepted in slack.socket_attempts) >= wanted


async def test_serve_answers_while_slack_refuses_the_socket_at_start_then_gets_ready(tmp_path: Path) -> None:
    """Slack refusing the first connections does not hold the process up: /healthz
    answers, /readyz says the socket is down, and once Slack takes a fresh ticket the
    replica is ready."""
    slack = await FakeSlack().start()
    slack.ticket_lifetime, slack.refuse_sockets = 5.0, 3  # refused for 1 + 2 + 4 s
    try:
        checklist = checklist_file(tmp_path, 9)
        async with (
            serve_process(tmp_path, checklist, slack, {"SLACK_APP_TOKEN": APP_TOKEN}) as served,
            httpx.AsyncClient(timeout=5) as http,
        ):
            first = await http.get(f"{served.url}/readyz")
            assert first.status_code == 503
            # The unauthenticated answer names the check and its state; the reason is logged.
            assert first.json()["checks"]["slack"] == "unavailable"

            async def ready() -> bool:
                return (await http.get(f"{served.url}/readyz")).status_code == 200

            await _until("ready", ready, 30)
            assert await served.terminate(timeout=30) == 0
    finally:
        await slack.stop()
    assert [accepted for *_, accepted in slack.socket_attempts] == [False, False, False, True]
    not_ready = [r for r in served.log_records() if r["event"] == "not ready" and r.get("check") == "slack"]
    assert not_ready and not_ready[0]["reason"] == "the Socket Mode connection is down", not_ready
    tickets = [ticket for _, ticket, _ in slack.socket_attempts]
    assert len(set(tickets)) == 4, tickets


async def test_envelopes_from_another_workspace_are_acked_and_ignored(tmp_path: Path) -> None:
    """Over the socket as over HTTP: a command from a workspace other than the token's is
    refused before any listener (acked, so that Slack does not send it again) and records
    nothing; the installed workspace's own command is served."""
    slack = await FakeSlack().start()
    for envelope_id, team, text in (
        ("env-other", "T0OTHER", "note from elsewhere"),
        ("env-own", "T0TEST", "note ours"),
    ):
        envelope = _envelope(envelope_id, slack)
        envelope["payload"].update(team_id=team, text=text, response_url=slack.response_url(DEVOPS, CHANNEL))
        slack.socket_envelopes.append(envelope)
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    checklist = load(checklist_file(tmp_path, 9), env={})
    bot = make_bot(checklist, store, Settings(BOT_TOKEN, None, APP_TOKEN, slack.api_url, 0, CHANNEL))
    client = socket_client(build_app(bot, None), APP_TOKEN, bot.client)
    try:
        await client.connect()

        async def both_acked() -> bool:
            return await _acked(slack, "env-other") and await _acked(slack, "env-own")

        await _until("both envelopes acked", both_acked, 10)
        await asyncio.gather(*list(bot.tasks), return_exceptions=True)
        release = await store.release_id("Shop", "2.0.0")
        assert [n.text for n in await store.notes(release)] == ["ours"]
        assert [c.params["text"] for c in slack.answers()] == ["Note saved."]
    finally:
        await bounded("close the socket", client.close())
        await asyncio.gather(*list(bot.tasks), return_exceptions=True)
        await store.close()
        await slack.stop()
