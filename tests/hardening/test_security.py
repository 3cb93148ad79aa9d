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

from golive.bot.render.messages import text
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
        "team": {"id": "T0TEST"},
        "user": {"id": DEVOPS, "team_id": "T0TEST"},
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
            told = [c for c in h.slack.calls[calls:] if c.method in ("chat.postEphemeral", "response_url")]
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
@pytest.mark.parametrize("password_in", ["userinfo", "query"])
async def test_secrets_appear_nowhere(
    password_in: str,
    tmp_path: Path,
    postgres_database: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Secrets of every kind are configured and used: the Slack tokens and signing secret,
    a registry password, a bearer token sent to a server that echoes request headers, a
    database password in the DSN, as userinfo or as ``?password=`` (trust authentication
    accepts it), and a PostgreSQL probe password. After a run, sign-offs and a confirmation
    through the bot, none of them is in what the Slack server received, in any log line or
    in any stored row."""
    from .targets import target

    monkeypatch.setenv("GOLIVE_TEST_REGISTRY_PASSWORD", REGISTRY_PASSWORD)
    monkeypatch.setenv("GOLIVE_TEST_BEARER", BEARER_TOKEN)
    monkeypatch.setenv("GOLIVE_TEST_PG_PASSWORD", PG_PROBE_PASSWORD)
    server = postgres_database.server
    if password_in == "userinfo":
        dsn = f"postgresql://{server.superuser}:{DB_PASSWORD}@{server.host}:{server.port}/{postgres_database.name}"
    else:
        dsn = f"{postgres_database.url}?password={DB_PASSWORD}"
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


# -- secrets inside URLs and connection strings -------------------------------------------

QUERY_DB_PASSWORD = "qs-db-pass-2c8e41f7"
KEYWORD_DB_PASSWORD = "kw-db-pass-90ab3d5e"
URL_TOKEN = "url-tok-6f1e0c2d9a"


@pytest.mark.parametrize(
    ("shown", "secret"),
    [
        ("database postgresql://golive@db/golive?password=pw-in-query-1 failed", "pw-in-query-1"),
        ("database postgresql://golive@db/golive?sslmode=disable&passwd=pw-2 failed", "pw-2"),
        ("postgresql://golive:pw-in-userinfo-3@db:5432/golive", "pw-in-userinfo-3"),
        ("connecting with password=kw-pass-4 host=db dbname=golive", "kw-pass-4"),
        ("host=db password = 'kw pass 5' dbname=golive", "'kw pass 5'"),
        ("GET https://api.example/v1?access_token=tok-6 200", "tok-6"),
        ("https://bucket.example/f?X-Amz-Date=20261206T000000Z&X-Amz-Signature=amz-sig-7", "amz-sig-7"),
        ("https://storage.example/f?X-Goog-Signature=goog-sig-8&X-Goog-Date=1", "goog-sig-8"),
        ("https://x.example/?api_key=k-9&view=full", "k-9"),
        ("https://x.example/?apikey=k-10", "k-10"),
        ("https://x.example/?key=k-11", "k-11"),
        ("https://x.example/?sig=s-12", "s-12"),
        ("https://x.example/?secret=s-13", "s-13"),
        ("https://x.example/?pwd=p-14", "p-14"),
        ("https://x.example/?signature=s-15", "s-15"),
        ("https://x.example/?token=t-16", "t-16"),
    ],
)
def test_credentials_in_urls_and_connection_strings_are_masked(shown: str, secret: str) -> None:
    from golive.checks.secrets import redact

    masked = redact(shown)
    assert secret not in masked
    # Only the secret is masked ([REDACTED] in text, REDACTED inside a URL): the rest stays readable.
    assert masked.replace("[REDACTED]", "REDACTED") == shown.replace(secret, "REDACTED")


@pytest.mark.parametrize(
    "ordinary",
    [
        "https://ci.example/job/42?code=4711&state=open&id=9",
        "https://wiki.example/runbook?page=release&version=2.0.0",
        "[STATUS] == 200 and [BODY].key == 3",
        "sslmode=disable host=db dbname=golive user=golive",
        "postgresql://golive:***@127.0.0.1:5432/golive",
    ],
)
def test_ordinary_parameters_are_left_alone(ordinary: str) -> None:
    from golive.checks.secrets import redact

    assert redact(ordinary) == ordinary


def test_a_library_logging_a_keyword_dsn_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party logger's line, through golive's log configuration, as written to stderr."""
    import io
    import logging

    import structlog

    from golive.bot.ops.logs import configure_logging

    monkeypatch.delenv("GOLIVE_LOG_LEVEL", raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(stream=stream)
    try:
        logging.getLogger("psycopg.pool").warning(
            "connection failed: host=db port=5432 password=%s dbname=golive", KEYWORD_DB_PASSWORD
        )
        logging.getLogger("httpx").warning(
            "HTTP Request: GET https://api.example/v1?access_token=%s", URL_TOKEN
        )
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)
        structlog.reset_defaults()
    written = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert written == [
        "connection failed: host=db port=5432 password=[REDACTED] dbname=golive",
        "HTTP Request: GET https://api.example/v1?access_token=REDACTED",
    ]


@pytest.mark.services
async def test_a_database_outage_shows_no_password_in_readyz_or_slack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The database's password is in the URL's query string; the database stops. /readyz
    (which answers anyone) names the database and its state, nothing else; the people
    whose clicks and commands could not be recorded are told so, without the URL's secret."""
    from tests.services.postgres import stoppable_server

    with stoppable_server() as server, captured_logs() as logs:
        dsn = f"{server.url('golive')}?password={QUERY_DB_PASSWORD}"
        async with harness(tmp_path, db_url=dsn) as h:
            await h.command("run")
            await h.settle()
            assert (await h.http.get(f"{h.url}/readyz")).status_code == 200
            calls = len(h.slack.calls)
            await asyncio.to_thread(server.run, "pg_ctl", "stop", "-D", server.data_dir, "-m", "fast", "-w")
            ready = await h.http.get(f"{h.url}/readyz")
            await h.action("golive_signoff", "devops", DEVOPS)
            await h.command("note deployed behind the flag")
            await h.settle()
            told = [
                c.params["text"]
                for c in h.slack.calls[calls:]
                if c.method in ("chat.postEphemeral", "response_url")
            ]
            sent = h.slack.all_text()
            await asyncio.to_thread(server.start, init=False)
    assert ready.status_code == 503
    assert ready.json() == {
        "ready": False,
        "checks": {"database": "unavailable", "slack": "not configured", "shutdown": "ok"},
        "not_ready": ["database"],
    }
    assert len(told) == 2 and all(t.startswith("Nothing was recorded") for t in told), told
    assert all("?password=REDACTED" in t for t in told), "the reply still says which database"
    printed = capsys.readouterr()
    places = {"/readyz": ready.text, "Slack": sent, "logs": logs.text(), "output": printed.out + printed.err}
    for place, content in places.items():
        assert QUERY_DB_PASSWORD not in content, f"the database password found in {place}"


@pytest.mark.services
async def test_a_debug_level_run_shows_no_secret_of_a_url(tmp_path: Path, postgres_database: Any) -> None:
    """``golive run`` at GOLIVE_LOG_LEVEL=debug: the http probe logs every request with its full URL,
    here one with an access token in the query, and the database URL has a password in its
    query. The lines are there, the secrets are not, on stderr, stdout or in the database."""
    import os
    import subprocess
    import sys

    from golive.storage import Store

    from .targets import target
    from .test_faults_database import small_checklist

    dsn = f"{postgres_database.url}?password={QUERY_DB_PASSWORD}"
    checklist = tmp_path / "checklist.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GOLIVE_"))}
    with target() as echo:
        probed = f"{echo.url}/ok?access_token={URL_TOKEN}&view=full"
        checklist.write_text(small_checklist(probed, names=("api",)))
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "golive", "run", "--checklist", str(checklist), "--db", dsn],
            cwd=tmp_path,
            env={**env, "GOLIVE_LOG_LEVEL": "debug"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    requested = [line for line in done.stderr.splitlines() if "HTTP Request: GET" in line]
    assert requested and all("/ok?access_token=REDACTED&view=full" in line for line in requested)
    async with await Store.open(dsn) as store:
        stored = json.dumps(await all_rows(store), default=str)
    assert "/ok?access_token=REDACTED&view=full" in stored, "the evidence link keeps its other parameters"
    for place, content in {"stderr": done.stderr, "stdout": done.stdout, "database": stored}.items():
        for secret in (URL_TOKEN, QUERY_DB_PASSWORD):
            assert secret not in content, f"{secret[:6]}… found in {place}"


def test_a_keyword_dsn_given_as_the_database_is_refused_without_echoing_it(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from .test_faults_database import small_checklist

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GOLIVE_"))}
    checklist = tmp_path / "checklist.yaml"
    checklist.write_text(small_checklist("http://127.0.0.1:9/ok", names=("api",)))
    dsn = f"host=127.0.0.1 port=5432 user=golive password={KEYWORD_DB_PASSWORD} dbname=golive"
    done = subprocess.run(
        [sys.executable, "-m", "golive", "run", "--checklist", str(checklist), "--db", dsn],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "the database URL is not a URL" in done.stderr
    assert KEYWORD_DB_PASSWORD not in done.stdout + done.stderr


def test_an_evidence_link_keeps_an_ordinary_code_parameter() -> None:
    """``code`` names a build, a ticket or a test case as often as an OAuth grant: masking it
    made evidence links useless. Names that mean secret are still masked beside it."""
    from golive.checks.clients.http import public_url

    shown = public_url("https://ci.example/job/42?code=4711&access_token=t0k3n&state=open")
    assert shown == "https://ci.example/job/42?code=4711&access_token=REDACTED&state=open"


@pytest.mark.services
async def test_a_configured_secret_is_masked_before_its_probe_reads_it(
    tmp_path: Path, postgres_database: Any
) -> None:
    """The secret belongs to an item of phase p2; ``golive run --phase p1`` never runs that
    probe, yet the value, appearing in p1's probe URL under an ordinary name, is masked in
    httpx's debug line, in the printed results and in the stored evidence."""
    import os
    import subprocess
    import sys

    import yaml

    from golive.storage import Store

    from .targets import target

    value = "cfg-secret-4d7a19e2b3"
    checklist = tmp_path / "checklist.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GOLIVE_"))}
    with target() as echo:

        def phase(name: str, probe: dict[str, Any]) -> dict[str, Any]:
            item = {"id": f"{name}-item", "title": name, "probe": probe, "conditions": ["[STATUS] == 200"]}
            section = {"id": f"{name}-s", "title": "S", "items": [item]}
            return {"id": name, "title": name, "sections": [section]}

        bearer = {"bearer": {"env": "GOLIVE_TEST_P2"}}

        document = {
            "release": {"name": "Shop", "version": "2.0.0"},
            "phases": [
                phase("p1", {"type": "http", "url": f"{echo.url}/ok?ref={value}"}),
                phase("p2", {"type": "http", "url": f"{echo.url}/echo", "auth": bearer}),
            ],
        }
        checklist.write_text(yaml.safe_dump(document))
        done = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "golive",
                "run",
                "--phase",
                "p1",
                "--checklist",
                str(checklist),
                "--db",
                postgres_database.url,
            ],
            cwd=tmp_path,
            env={**env, "GOLIVE_LOG_LEVEL": "debug", "GOLIVE_TEST_P2": value},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert echo.requests == [f"/ok?ref={value}"], "p1's probe ran with the value, p2's did not run"
    assert "/ok?ref=[REDACTED]" in done.stderr
    async with await Store.open(postgres_database.url) as store:
        stored = json.dumps(await all_rows(store), default=str)
    assert "/ok?ref=[REDACTED]" in stored
    for place, content in {"stderr": done.stderr, "stdout": done.stdout, "database": stored}.items():
        assert value not in content, f"the secret found in {place}"


@pytest.mark.parametrize("body", ["a." * 500_000 + "=", "http://a:" * 100_000 + "@", "x-" * 500_000])
def test_a_large_body_is_redacted_in_linear_time(body: str) -> None:
    """Probe bodies reach the redactor (up to the probes' cap): a pattern that rescans
    the rest of the text from every position would take hours on these; linear, well
    under a second."""
    from golive.checks.secrets import redact

    started = time.monotonic()
    redact(body)
    assert time.monotonic() - started < 20
