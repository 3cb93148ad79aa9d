"""/readyz over real HTTP: 200 while the database answers and Slack is connected, 503 naming
what is not ready: the SQLite file removed, PostgreSQL stopped, a Slack token refused,
the Socket Mode connection down, shutdown begun. /healthz stays 200 throughout. The
answer has names and states only; why a check fails is in the log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from structlog.testing import capture_logs

from golive.bot.serve.http import http_app
from golive.bot.serve.process import make_bot
from golive.bot.serve.readiness import Readiness
from golive.bot.serve.settings import Settings
from golive.bot.slack.app import build_app
from golive.bot.slack.client import web_client
from golive.bot.slack.link import SlackAuth, SlackSocket
from golive.checks.loader import load
from golive.storage import Store
from tests.services import require_service
from tests.services.postgres import PostgresServer, unavailable_reason

from .fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack
from .slack_support import CHANNEL, checklist_file


@asynccontextmanager
async def served(readiness: Readiness) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    runner = web.AppRunner(http_app(None, readiness=readiness))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            yield http, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def readyz(http: httpx.AsyncClient, url: str) -> tuple[int, dict[str, Any]]:
    assert (await http.get(f"{url}/healthz")).status_code == 200
    response = await http.get(f"{url}/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body


def reasons(logged: list[MutableMapping[str, Any]], check: str) -> list[str]:
    return [line["reason"] for line in logged if line["event"] == "not ready" and line["check"] == check]


async def test_ready_until_the_sqlite_file_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "golive.db"
    store = await Store.open(f"sqlite:///{path}")
    try:
        async with served(Readiness(store=store)) as (http, url):
            status, body = await readyz(http, url)
            assert (status, body["not_ready"]) == (200, [])
            assert body["checks"] == {"database": "ok", "slack": "not configured", "shutdown": "ok"}
            path.unlink()
            with capture_logs() as logged:
                status, body = await readyz(http, url)
            assert (status, body["not_ready"]) == (503, ["database"])
            assert body["checks"]["database"] == "unavailable"
            assert [r.endswith("failed: the file is gone") for r in reasons(logged, "database")] == [True]
    finally:
        await store.close()


@pytest.mark.services
async def test_not_ready_while_postgres_is_stopped() -> None:
    reason = unavailable_reason()
    if reason is not None:
        require_service("PostgreSQL", reason)
    server = PostgresServer().start()  # its own: the session's server must keep running
    try:
        store = await Store.open(server.url())
        try:
            async with served(Readiness(store=store)) as (http, url):
                assert (await readyz(http, url))[0] == 200
                server.run("pg_ctl", "stop", "-D", server.data_dir, "-m", "fast", "-w")
                with capture_logs() as logged:
                    status, body = await readyz(http, url)
                    assert (await readyz(http, url))[0] == 503
                assert (status, body["not_ready"]) == (503, ["database"])
                assert body["checks"]["database"] == "unavailable"
                logged_reasons = reasons(logged, "database")
                assert len(logged_reasons) == 1, "a reason is logged once, not at every probe"
                assert f"{server.host}:{server.port}" in logged_reasons[0]
                server.start(init=False)
                assert (await readyz(http, url))[0] == 200
        finally:
            await store.close()
    finally:
        server.stop()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()


async def test_http_mode_is_ready_once_auth_test_succeeds(slack: FakeSlack) -> None:
    auth = SlackAuth(web_client(BOT_TOKEN, slack.api_url))
    async with served(Readiness(slack=auth)) as (http, url):
        with capture_logs() as logged:
            status, body = await readyz(http, url)
        assert (status, body["checks"]["slack"]) == (503, "unavailable")
        assert reasons(logged, "slack") == ["auth.test has not answered yet"]
        await auth.keep_trying()  # returns once auth.test succeeded
        assert (await readyz(http, url))[0] == 200


async def test_http_mode_is_not_ready_while_slack_refuses_the_token(slack: FakeSlack) -> None:
    auth = SlackAuth(web_client("xoxb-revoked-token", slack.api_url), first_delay=0.05, max_delay=0.1)
    trying = asyncio.create_task(auth.keep_trying())
    try:
        async with served(Readiness(slack=auth)) as (http, url):
            async with asyncio.timeout(10):
                while len(slack.calls) < 2:  # it keeps asking
                    await asyncio.sleep(0.02)
            with capture_logs() as logged:
                status, body = await readyz(http, url)
            assert (status, body["not_ready"]) == (503, ["slack"])
            assert body["checks"]["slack"] == "unavailable"
            assert reasons(logged, "slack") == ["auth.test failed: invalid_auth"]
    finally:
        trying.cancel()


async def test_socket_mode_is_ready_while_connected(tmp_path: Path, slack: FakeSlack) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    settings = Settings(BOT_TOKEN, None, APP_TOKEN, slack.api_url, 0, CHANNEL)
    bot = make_bot(load(checklist_file(tmp_path, 9), env={}), store, settings)
    handler = AsyncSocketModeHandler(build_app(bot, None), APP_TOKEN, web_client=bot.client)
    readiness = Readiness(store=store, slack=SlackSocket(handler.client))
    try:
        async with served(readiness) as (http, url):
            status, body = await readyz(http, url)
            assert (status, body["checks"]["slack"]) == (503, "unavailable")
            await handler.connect_async()  # type: ignore[no-untyped-call]
            assert (await readyz(http, url))[0] == 200
            await handler.close_async()  # type: ignore[no-untyped-call]
            status, body = await readyz(http, url)
            assert (status, body["not_ready"]) == (503, ["slack"])
    finally:
        await store.close()


async def test_not_ready_once_shutdown_begins(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    readiness = Readiness(store=store)
    try:
        async with served(readiness) as (http, url):
            assert (await readyz(http, url))[0] == 200
            readiness.shutting_down.set()
            status, body = await readyz(http, url)
            assert (status, body["not_ready"], body["checks"]["shutdown"]) == (
                503,
                ["shutdown"],
                "shutting down",
            )
    finally:
        await store.close()
