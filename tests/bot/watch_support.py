"""What the schedule and alert tests share: a target whose answers the test sets per path,
a checklist around it, and a "world" (fake Slack, a real store, the notifier) driven by a
clock the test moves. Restarting means a new store and notifier on the same database."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from golive.bot.core import usecases
from golive.bot.core.notify import Notifier
from golive.bot.core.publish import announce_if_go
from golive.bot.slack.client import web_client
from golive.bot.slack.surface import SlackSurface
from golive.checks.loader import load
from golive.checks.model import Checklist
from golive.storage import Store

from .fake_slack import BOT_TOKEN, Call, FakeSlack

CHANNEL = "C0RELEASE"
DEVOPS = "U0DEVOPS"
OPS = "U00OPS"
#: Monday 2 March 2026, 09:00 in Berlin.
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Target(ThreadingHTTPServer):
    """Answers ``GET /<name>`` with the status and ``{"status": …}`` body set for it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: dict[str, tuple[int, str]] = {}

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def set(self, name: str, status: int = 200, body: str = "UP") -> None:
        self.answers[name] = (status, body)


class _Handler(BaseHTTPRequestHandler):
    server: Target

    def do_GET(self) -> None:
        status, state = self.server.answers.get(self.path.strip("/"), (200, "UP"))
        body = json.dumps({"status": state}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def http_item(item_id: str, port: int, **extra: Any) -> dict[str, Any]:
    """PASS on 200 + UP, WARN on 200 + anything else, FAIL on any other status."""
    return {
        "id": item_id,
        "title": f"{item_id.capitalize()} prüfen",
        "probe": {"type": "http", "url": f"http://127.0.0.1:{port}/{item_id}"},
        "conditions": ["[STATUS] == 200"],
        "warn_conditions": ["[BODY].status == UP"],
        **extra,
    }


def checklist_document(port: int, **top: Any) -> dict[str, Any]:
    items = [
        http_item("health", port),
        http_item("flappy", port, alert={"fail_threshold": 2, "window": 3}),
        {
            "id": "runbook",
            "title": "Runbook erstellt",
            "owner": "ops",
            "probe": {"type": "manual"},
            "max_age": "1h",
        },
    ]
    document: dict[str, Any] = {
        "release": {"name": "Shop", "version": "2.0.0", "channel": CHANNEL},
        "signoffs": [
            {
                "id": "devops",
                "title": "DevOps-Team",
                "approvers": {"users": [DEVOPS], "usergroups": ["S0DEVOPS"]},
            },
            {"id": "ops", "title": "Operations", "approvers": {"users": [OPS]}},
        ],
        "rollback": {
            "procedure": ["helm rollback shop 41"],
            "roles": [{"role": "Incident lead", "people": [{"name": "Dana Ops", "slack": OPS}]}],
            "contacts": [{"name": "Vendor hotline", "phone": "+49 30 9999"}],
        },
        "phases": [
            {
                "id": "p1",
                "title": "P1: Staging",
                "owner": "devops",
                "sections": [{"id": "s1", "title": "Checks", "items": items}],
            }
        ],
    }
    document.update(top)
    return document


def write_checklist(folder: Path, document: dict[str, Any]) -> Checklist:
    path = folder / "checklist.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return load(path, env={})


@dataclass
class World:
    folder: Path
    slack: FakeSlack
    target: Target
    checklist: Checklist
    store: Store
    notifier: Notifier
    at: datetime = T0
    stores: list[Store] = field(default_factory=list)

    def clock(self) -> datetime:
        return self.at

    async def run(self, at: datetime) -> int:
        """A run at ``at``, then what the bot does after every run."""
        self.at = at
        run_id, state = await usecases.execute_run(self.checklist, self.store, now=self.clock)
        await self.notifier.after_run(run_id, state)
        return run_id

    async def restart(self) -> None:
        """A new process: a new store and notifier on the same database, nothing in memory."""
        self.store = await Store.open(f"sqlite:///{self.folder / 'golive.db'}")
        self.stores.append(self.store)
        self.notifier = _notifier(self.checklist, self.store, self.slack, self.clock)

    async def reach_go(self, at: datetime) -> None:
        """Everything passes, the runbook is confirmed, both roles sign, GO is announced."""
        self.at = at
        await usecases.confirm_item(
            self.checklist,
            self.store,
            "runbook",
            user=OPS,
            evidence_url="https://wiki.example/rb",
            now=self.clock,
        )
        await self.run(at)
        await usecases.sign_off(self.checklist, self.store, "devops", user=DEVOPS, now=self.clock)
        await usecases.sign_off(self.checklist, self.store, "ops", user=OPS, now=self.clock)
        await self.announce()

    async def announce(self) -> bool:
        state = await usecases.current_state(self.checklist, self.store, now=self.clock)
        return await announce_if_go(self.checklist, self.store, self.notifier.surface, CHANNEL, state)

    def posts(self, *needles: str) -> list[Call]:
        """Channel posts whose fallback text contains every needle."""
        return [
            c for c in self.slack.ok_calls("chat.postMessage") if all(n in c.params["text"] for n in needles)
        ]

    def post_texts(self) -> list[str]:
        return [str(c.params["text"]) for c in self.slack.ok_calls("chat.postMessage")]


def _notifier(
    checklist: Checklist, store: Store, slack: FakeSlack, clock: Callable[[], datetime]
) -> Notifier:
    surface = SlackSurface(web_client(BOT_TOKEN, slack.api_url))
    return Notifier(checklist, store, surface, CHANNEL, now=clock)


@asynccontextmanager
async def world(folder: Path, **top: Any) -> AsyncIterator[World]:
    slack = await FakeSlack().start()
    target = Target()
    threading.Thread(target=target.serve_forever, daemon=True).start()
    checklist = write_checklist(folder, checklist_document(target.port, **top))
    store = await Store.open(f"sqlite:///{folder / 'golive.db'}")
    built = World(folder, slack, target, checklist, store, _notifier(checklist, store, slack, lambda: T0))
    built.notifier = _notifier(checklist, store, slack, built.clock)
    built.stores.append(store)
    try:
        yield built
    finally:
        for opened in built.stores:
            await opened.close()
        target.shutdown()
        target.server_close()
        await slack.stop()


def minutes(count: float) -> timedelta:
    return timedelta(minutes=count)
