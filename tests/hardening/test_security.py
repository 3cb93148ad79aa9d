"""Security: replayed requests, authorisation of every state-changing command, action and
view, no shell anywhere, and secrets kept out of everything golive writes."""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from golive.bot.messages import text
from tests.bot.fake_slack import BOT_TOKEN
from tests.bot.slack_support import (
    CHANNEL,
    DEVOPS,
    GROUP_MEMBER,
    OPS,
    SIGNING_SECRET,
    STRANGER,
    Harness,
    harness,
)

from .support import all_rows, captured_logs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path, extra={"schedule": {"interval": "1h"}}) as built:
        yield built


# -- replay ---------------------------------------------------------------------------


async def test_a_replayed_request_is_refused_once_outside_the_window(h: Harness) -> None:
    """The same bytes with the same signature: accepted while the timestamp is within
    five minutes, refused once the clock has moved past them."""
    await h.command("run")
    await h.settle()
    payload = {
        "type": "block_actions",
        "user": {"id": DEVOPS},
        "channel": {"id": CHANNEL},
        "container": {"channel_id": CHANNEL, "message_ts": "1.1"},
        "trigger_id": "t",
        "actions": [{"action_id": "golive_signoff", "value": "devops", "type": "button"}],
    }
    body = f"payload={quote(json.dumps(payload))}"
    headers = h.signed(body, timestamp=int(time.time()) - 5 * 60 + 2)  # 2 s left in the window
    first = await h.http.post(f"{h.url}/slack/events", content=body, headers=headers)
    assert first.status_code == 200
    await h.settle()
    release = await h.store.release_id("Shop", "2.0.0")
    signed = await h.store.signoffs(release)
    assert len(signed) == 1
    await h.action("golive_revoke", "devops", DEVOPS)  # so a replay would sign again
    await h.settle()
    await asyncio.sleep(3)
    replayed = await h.http.post(f"{h.url}/slack/events", content=body, headers=headers)
    assert replayed.status_code == 401
    await h.settle()
    assert [s.revoked_at is not None for s in await h.store.signoffs(release)] == [True]


async def test_an_old_signature_is_refused(h: Harness) -> None:
    old = await h.command("note replayed", timestamp=int(time.time()) - 10 * 60)
    future = await h.command("note from the future", timestamp=int(time.time()) + 10 * 60)
    assert old.status_code == future.status_code == 401
    assert await h.store.notes(await h.store.release_id("Shop", "2.0.0")) == []


# -- authorisation: every state-changing request --------------------------------------


@dataclass(frozen=True)
class Guarded:
    """A request, who may make it and who may not, and the table its success changes."""

    name: str
    kind: str  # command | action | view
    payload: str
    allowed: tuple[str, ...]
    refused: tuple[str, ...]
    changes: str | None
    #: Why it is open to everyone, where it is.
    open_because: str = ""
    before: tuple[tuple[str, str, str], ...] = field(default=())


CONFIRM_VIEW = "runbook"
TABLE = [
    Guarded(
        "run",
        "command",
        "run",
        (STRANGER,),
        (),
        "runs",
        open_because="anyone in the release channel may probe (DESIGN: the channel types /golive run)",
    ),
    Guarded("note", "command", "note CAB approved", (DEVOPS,), (STRANGER,), "notes"),
    Guarded("waive", "command", "waive health 2 INC-7 known flaky", (DEVOPS,), (OPS, STRANGER), "waivers"),
    Guarded("schedule pause", "command", "schedule pause", (OPS,), (STRANGER,), "schedule_state"),
    Guarded("sign off", "action", "golive_signoff:devops", (GROUP_MEMBER,), (OPS, STRANGER), "signoffs"),
    Guarded(
        "revoke",
        "action",
        "golive_revoke:devops",
        (DEVOPS,),
        (OPS, STRANGER),
        "signoffs",
        before=(("action", "golive_signoff:devops", DEVOPS),),
    ),
    Guarded("open confirm modal", "action", "golive_confirm:runbook", (OPS,), (DEVOPS, STRANGER), None),
    Guarded("submit confirmation", "view", CONFIRM_VIEW, (OPS,), (DEVOPS, STRANGER), "confirmations"),
]
READ_ONLY = ["help", "status", "status p1", "signoff", "confirm", "report", "schedule", "diff 1 1"]


def test_the_table_covers_every_subcommand_in_the_help() -> None:
    listed = set(re.findall(r"`/golive (\w+)", text("en", "help", release="x")))
    covered = {g.payload.split()[0] for g in TABLE if g.kind == "command"} | {c.split()[0] for c in READ_ONLY}
    assert listed <= covered, f"add these to the table: {sorted(listed - covered)}"


async def send(h: Harness, kind: str, payload: str, user: str) -> None:
    if kind == "command":
        response = await h.command(payload, user=user)
    elif kind == "action":
        action_id, _, value = payload.partition(":")
        response = await h.action(action_id, value, user)
    else:
        view = {
            "type": "modal",
            "callback_id": "golive_confirm_modal",
            "private_metadata": json.dumps({"item": payload, "channel": CHANNEL}),
        }
        values = {"evidence": {"url": {"type": "url_text_input", "value": "https://wiki.example/runbook"}}}
        response = await h.submit_view(view, values, user)
    assert response.status_code == 200
    await h.settle()


async def test_every_state_changing_request_is_authorised(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    for guarded in TABLE:
        for kind, payload, user in guarded.before:
            await send(h, kind, payload, user)
        for user in guarded.refused:
            before = await all_rows(h.store)
            calls = len(h.slack.calls)
            await send(h, guarded.kind, guarded.payload, user)
            assert await all_rows(h.store) == before, f"{guarded.name} by {user} recorded something"
            told = [c for c in h.slack.calls[calls:] if c.method == "chat.postEphemeral"]
            assert told and told[-1].params["user"] == user, f"{guarded.name}: {user} was not told"
            assert not [c for c in h.slack.calls[calls:] if c.method == "views.open"]
        for user in guarded.allowed:
            before = await all_rows(h.store)
            calls = len(h.slack.ok_calls("views.open"))
            await send(h, guarded.kind, guarded.payload, user)
            after = await all_rows(h.store)
            if guarded.changes is None:
                assert len(h.slack.ok_calls("views.open")) == calls + 1, guarded.name
            else:
                assert after[guarded.changes] != before[guarded.changes], (
                    f"{guarded.name} by {user} did nothing"
                )


async def test_read_only_commands_record_nothing(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    before = await all_rows(h.store)
    for command in READ_ONLY:
        response = await h.command(command, user=STRANGER)
        assert response.status_code == 200
        await h.settle()
    assert await all_rows(h.store) == before


# -- never a shell ----------------------------------------------------------------------


def test_no_code_of_golive_starts_a_shell() -> None:
    """The command probe execs argv (tests/checks/command proves ; $() * stay text); and
    nothing else in golive may hand a string to a shell either."""
    found = []
    for path in sorted((ROOT / "golive").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            shell = any(k.arg == "shell" and not _false(k.value) for k in node.keywords)
            if shell or name.endswith(("create_subprocess_shell", "os.system", "os.popen", "popen2")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert found == []


def _false(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and value.value is False


# -- secrets ------------------------------------------------------------------------------

REGISTRY_PASSWORD = "reg-pass-8d2f6c1a"
BEARER_TOKEN = "bearer-tok-3b9e77c0d1"
DB_PASSWORD = "db-pass-5e0a4c9b"
PG_PROBE_PASSWORD = "pg-probe-pass-71c3aa"


@pytest.mark.services
async def test_secrets_appear_nowhere(
    tmp_path: Path,
    postgres_database: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Secrets of every kind are configured and used: the Slack tokens and signing secret,
    a registry password, a bearer token sent to a server that echoes request headers, a
    database password in the DSN (trust authentication accepts it) and a PostgreSQL probe
    password. After a run, sign-offs and a confirmation through the bot, none of them is
    in what the Slack server received, in any log line or in any stored row."""
    from .targets import target

    monkeypatch.setenv("GOLIVE_TEST_REGISTRY_PASSWORD", REGISTRY_PASSWORD)
    monkeypatch.setenv("GOLIVE_TEST_BEARER", BEARER_TOKEN)
    monkeypatch.setenv("GOLIVE_TEST_PG_PASSWORD", PG_PROBE_PASSWORD)
    server = postgres_database.server
    dsn = (
        f"postgresql://{server.superuser}:{DB_PASSWORD}@{server.host}:{server.port}/{postgres_database.name}"
    )
    secrets = [BOT_TOKEN, SIGNING_SECRET, REGISTRY_PASSWORD, BEARER_TOKEN, DB_PASSWORD, PG_PROBE_PASSWORD]
    encoded = [base64.b64encode(f"golive:{REGISTRY_PASSWORD}".encode()).decode()]
    with target() as echo, captured_logs() as logs:
        items = [
            {"id": "health", "title": "Health-Checks", "probe": {"type": "http", "url": f"{echo.url}/ok"}},
            {
                "id": "echo",
                "title": "Echo",
                "probe": {
                    "type": "http",
                    "url": f"{echo.url}/echo",
                    "auth": {"bearer": {"env": "GOLIVE_TEST_BEARER"}},
                },
            },
            {
                "id": "images",
                "title": "Images",
                "probe": {
                    "type": "registry",
                    "url": f"{echo.url}/basic-auth",
                    "images": ["valeo/api"],
                    "tag": "1.1.0",
                    "auth": {"username": "golive", "password": {"env": "GOLIVE_TEST_REGISTRY_PASSWORD"}},
                },
            },
            {
                "id": "replication",
                "title": "Replication",
                "probe": {
                    "type": "postgres_replication",
                    "role": "primary",
                    "host": server.host,
                    "port": server.port,
                    "user": server.superuser,
                    "password": {"env": "GOLIVE_TEST_PG_PASSWORD"},
                    "sslmode": "disable",
                },
            },
            {"id": "runbook", "title": "Runbook erstellt", "owner": "ops", "probe": {"type": "manual"}},
        ]
        phases = [
            {
                "id": "p1",
                "title": "P1: Staging",
                "owner": "devops",
                "sections": [{"id": "p1-deploy", "title": "Deployment", "items": items}],
            }
        ]
        async with harness(tmp_path, extra={"phases": phases}, db_url=dsn) as h:
            await h.command("run")
            await h.settle()
            await h.action("golive_confirm", "runbook", OPS)
            view = (await h.slack.wait_for("views.open"))[-1].params["view"]
            await h.submit_view(
                view,
                {"evidence": {"url": {"type": "url_text_input", "value": "https://wiki.example/runbook"}}},
                OPS,
            )
            await h.settle()
            for role, user in (("devops", DEVOPS), ("ops", OPS)):
                await h.action("golive_signoff", role, user)
                await h.settle()
            await h.command("status")
            await h.command("report")
            await h.settle()
            stored = json.dumps(await all_rows(h.store), default=str, ensure_ascii=False)
            sent = h.slack.all_text() + "".join(p.decode("latin-1") for p in h.slack.uploads.values())
            assert h.slack.ok_calls("chat.postMessage") and len(await h.store.signoffs(1)) == 2
            # The secrets were used: the echo reflected the bearer token (redacted since), and
            # the registry got past its Basic challenge to the manifest.
            assert "Bearer [REDACTED]" in stored and "unsupported manifest type" in stored
    printed = capsys.readouterr()
    places = {"Slack": sent, "logs": logs.text(), "database": stored, "output": printed.out + printed.err}
    for secret in secrets + encoded:
        for place, content in places.items():
            assert secret not in content, f"{secret[:6]}… found in {place}"
