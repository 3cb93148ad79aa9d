"""Socket Mode: a local WebSocket server sends Slack's envelopes; the bot acks each and acts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from golive.bot.server import Settings, make_bot
from golive.bot.slack_app import build_app
from golive.checks.loader import load
from golive.storage import Store

from .fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack
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
                "response_url": f"{slack.url}/webhook",
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
            if slack.socket_acks and slack.ok_calls("chat.postEphemeral"):
                break
            await asyncio.sleep(0.05)
        assert {"envelope_id": "env-1"} in [{"envelope_id": a.get("envelope_id")} for a in slack.socket_acks]
        assert len(slack.ok_calls("apps.connections.open")) == 1
        help_text = slack.ok_calls("chat.postEphemeral")[0].params["text"]
        assert "/golive run" in help_text
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await asyncio.gather(*list(bot.tasks), return_exceptions=True)
        await store.close()
        await slack.stop()
