"""Everything a Slack end-to-end test needs: the fake Slack, a target, the bot served over
real HTTP, and requests signed exactly as Slack signs them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import yaml
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from golive.bot.serve.http import http_app
from golive.bot.serve.process import make_bot
from golive.bot.serve.settings import Settings
from golive.bot.slack.app import build_app
from golive.bot.slack.bot import Bot
from golive.checks.loader import load
from golive.storage import Store

from .fake_slack import BOT_TOKEN, FakeSlack

SIGNING_SECRET = "test-signing-secret-4f1c2a"
CHANNEL = "C0RELEASE"
#: The workspace the bot token belongs to (the fake Slack's auth.test answers it).
TEAM = "T0TEST"
#: A direct message between a person and the bot's user: the bot is a member of none.
DM = "D0DIRECT"
DEVOPS = "U0DEVOPS"
OPS = "U00OPS"
GROUP_MEMBER = "U0GROUPIE"
STRANGER = "U0STRANGER"


class Target(ThreadingHTTPServer):
    daemon_threads = True
    status = 200
    delay = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: Target

    def do_GET(self) -> None:
        time.sleep(self.server.delay)
        body = json.dumps({"status": "UP" if self.server.status == 200 else "DOWN"}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def checklist_file(
    folder: Path,
    target_port: int,
    language: str = "en",
    extra: dict[str, Any] | None = None,
    more_phases: list[dict[str, Any]] | None = None,
) -> Path:
    document = {
        "release": {"name": "Shop", "version": "2.0.0", "channel": CHANNEL, "language": language},
        "signoffs": [
            {
                "id": "devops",
                "title": "DevOps-Team",
                "approvers": {"users": [DEVOPS], "usergroups": ["S0DEVOPS"]},
            },
            {"id": "ops", "title": "Operations", "approvers": {"users": [OPS]}},
        ],
        "rollback": {
            "procedure_url": "https://wiki.example/rollback",
            "procedure": ["helm rollback shop", "verify health"],
            "known_good_revision": "shop-41",
            "triggers": [{"name": "Errors", "description": "5xx above 5 % for 5 minutes"}],
            "roles": [
                {
                    "role": "Incident lead",
                    "people": [{"name": "Dana Ops", "slack": OPS, "phone": "+49 30 1234"}],
                }
            ],
            "contacts": [{"name": "Vendor hotline", "phone": "+49 30 9999"}],
            "communication_plan": "Status page, then #shop-release every 15 minutes.",
        },
        "phases": [
            {
                "id": "p1",
                "title": "P1: Staging",
                "owner": "devops",
                "sections": [
                    {
                        "id": "p1-deploy",
                        "title": "Deployment",
                        "items": [
                            {
                                "id": "health",
                                "title": "Health-Checks erfolgreich",
                                "probe": {"type": "http", "url": f"http://127.0.0.1:{target_port}/health"},
                                "conditions": ["[STATUS] == 200", "[BODY].status == UP"],
                            },
                            {
                                "id": "runbook",
                                "title": "Runbook erstellt",
                                "owner": "ops",
                                "probe": {"type": "manual"},
                            },
                        ],
                    }
                ],
            }
        ],
    }
    document["phases"] = [*document["phases"], *(more_phases or [])]
    document.update(extra or {})
    path = folder / "checklist.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return path


#: A second phase: one manual item, owned by DevOps.
CUTOVER = {
    "id": "p2",
    "title": "P2: Cutover",
    "owner": "devops",
    "sections": [
        {
            "id": "p2-dns",
            "title": "DNS",
            "items": [
                {"id": "dns", "title": "DNS umgestellt", "owner": "devops", "probe": {"type": "manual"}}
            ],
        }
    ],
}


@dataclass
class Harness:
    slack: FakeSlack
    target: Target
    store: Store
    bot: Bot
    url: str
    http: httpx.AsyncClient

    # -- requests signed like Slack's ---------------------------------------------------

    def signed(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> dict[str, str]:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body) or ""
        return {
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature,
            "content-type": content_type,
        }

    async def command(
        self,
        text: str,
        user: str = DEVOPS,
        *,
        channel: str = CHANNEL,
        team: str = TEAM,
        enterprise: str | None = None,
        **signing: Any,
    ) -> httpx.Response:
        """``/golive text`` by ``user`` in ``channel`` (a DM's id starts with D), sent by
        the workspace ``team`` (of the Enterprise Grid organisation ``enterprise``)."""
        fields = {
            "token": "legacy-unused",
            "team_id": team,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "release" if channel == CHANNEL else "directmessage",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/golive",
            "text": text,
            "api_app_id": "A0TEST",
            "response_url": self.slack.response_url(user, channel),
            "trigger_id": "1337.42.abcd",
        }
        if enterprise is not None:
            fields["enterprise_id"] = enterprise
        body = urlencode(fields)
        return await self.http.post(
            f"{self.url}/slack/events", content=body, headers=self.signed(body, **signing)
        )

    async def action(
        self,
        action_id: str,
        value: str,
        user: str,
        message_ts: str = "1700000000.000001",
        *,
        team: str = TEAM,
        **signing: Any,
    ) -> httpx.Response:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0TEST",
            "team": {"id": team, "domain": "test"},
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": CHANNEL,
                "is_ephemeral": False,
            },
            "channel": {"id": CHANNEL, "name": "release"},
            "trigger_id": "1337.42.efgh",
            "response_url": self.slack.response_url(user, CHANNEL),
            "message": {"ts": message_ts, "text": ""},
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": f"b-{value}",
                    "value": value,
                    "type": "button",
                    "action_ts": str(time.time()),
                }
            ],
        }
        body = f"payload={quote(json.dumps(payload))}"
        return await self.http.post(
            f"{self.url}/slack/events", content=body, headers=self.signed(body, **signing)
        )

    async def submit_view(
        self, view: dict[str, Any], values: dict[str, Any], user: str, *, team: str = TEAM
    ) -> httpx.Response:
        payload = {
            "type": "view_submission",
            "team": {"id": team, "domain": "test"},
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0TEST",
            "trigger_id": "1337.42.ijkl",
            "view": {**view, "id": "V0001", "state": {"values": values}},
        }
        body = f"payload={quote(json.dumps(payload))}"
        return await self.http.post(f"{self.url}/slack/events", content=body, headers=self.signed(body))

    async def settle(self) -> None:
        """Wait until the bot's background work after the acks is done."""
        for _ in range(500):
            if not self.bot.tasks:
                return
            await asyncio.gather(*list(self.bot.tasks), return_exceptions=True)
        raise AssertionError("background tasks did not finish")


@asynccontextmanager
async def harness(
    folder: Path,
    language: str = "en",
    extra: dict[str, Any] | None = None,
    db_url: str | None = None,
    allowed_teams: tuple[str, ...] = (),
    more_phases: list[dict[str, Any]] | None = None,
) -> AsyncIterator[Harness]:
    """``extra``: top-level checklist keys to add or replace (schedule, alerts, …);
    ``db_url``: another database than a SQLite file in ``folder``; ``allowed_teams``:
    workspaces served besides the bot token's own; ``more_phases``: phases after the one
    every checklist has."""
    slack = await FakeSlack(groups={"S0DEVOPS": [GROUP_MEMBER]}).start()
    target = Target(("127.0.0.1", 0), _Handler)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    store = await Store.open(db_url or f"sqlite:///{folder / 'golive.db'}")
    checklist = load(checklist_file(folder, target.server_address[1], language, extra, more_phases), env={})
    settings = Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        app_token=None,
        api_url=slack.api_url,
        port=0,
        channel=CHANNEL,
        allowed_teams=allowed_teams,
    )
    bot = make_bot(checklist, store, settings)
    app = build_app(bot, SIGNING_SECRET)
    runner = web.AppRunner(http_app(app, store))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            yield Harness(slack, target, store, bot, f"http://127.0.0.1:{port}", http)
        finally:
            await asyncio.gather(*list(bot.tasks), return_exceptions=True)
            await runner.cleanup()
            await store.close()
            target.shutdown()
            target.server_close()
            await slack.stop()
