"""GitHub deployment protection end to end: signed deliveries into golive's HTTP app, the
deploy recorded and told in the channel, and the answers sent to a local GitHub that
checks the App's JWT and the installation token."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from golive.bot.console import ConsoleSurface
from golive.bot.core import usecases
from golive.bot.core.transitions import announce_change
from golive.bot.gate import protection
from golive.bot.gate.github import GitHubApp, GitHubSettings, signature
from golive.bot.serve.http import http_app
from golive.checks.loader import load
from golive.checks.model import Checklist
from golive.storage import Store

from .fake_github import (
    APP_ID,
    WEBHOOK_SECRET,
    FakeGitHub,
    pem,
    private_key,
    protection_delivery,
)
from .gate_support import DEVOPS, gate_checklist, target
from .slack_support import harness


@dataclass
class Setup:
    url: str
    http: httpx.AsyncClient
    store: Store
    checklist: Checklist
    github: FakeGitHub
    settings: GitHubSettings
    printed: io.StringIO
    channel: protection.Channel

    async def deliver(self, delivery: str, **fields: object) -> httpx.Response:
        body, headers = protection_delivery(self.github, delivery=delivery, **fields)  # type: ignore[arg-type]
        return await self.http.post(self.url + "/github/webhook", content=body, headers=headers)

    async def answer(self, wait_minutes: float = 60) -> list[tuple[str, bool]]:
        app = GitHubApp(self.settings, self.http)
        sent = await protection.answer_pending(
            self.checklist, self.store, app, wait_minutes=wait_minutes, channel=self.channel
        )
        return [(d.delivery_id, approved) for d, approved in sent]


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    key = private_key()
    (tmp_path / "app.pem").write_bytes(pem(key))
    github = await FakeGitHub(key.public_key()).start()
    settings = GitHubSettings.from_variables(
        {
            "GOLIVE_GITHUB_APP_ID": APP_ID,
            "GOLIVE_GITHUB_PRIVATE_KEY_FILE": str(tmp_path / "app.pem"),
            "GOLIVE_GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET.decode(),
            "GOLIVE_GITHUB_API_URL": github.url,
        }
    )
    assert settings is not None
    printed = io.StringIO()
    channel = protection.Channel(ConsoleSurface(tmp_path / "charts", printed), "#release")
    with target() as server:
        store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
        checklist = load(gate_checklist(tmp_path, server.server_address[1]), env={})
        application = http_app(None, store)
        protection.install_webhook(application, store, checklist, settings.webhook_secret, lambda: channel)
        runner = web.AppRunner(application)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                yield Setup(
                    f"http://127.0.0.1:{port}", http, store, checklist, github, settings, printed, channel
                )
        finally:
            await runner.cleanup()
            await store.close()
            await github.stop()


async def test_a_wrongly_signed_delivery_is_refused(setup: Setup) -> None:
    body, headers = protection_delivery(setup.github, delivery="d-1", secret=b"not-the-secret")
    answer = await setup.http.post(setup.url + "/github/webhook", content=body, headers=headers)
    assert answer.status_code == 401
    headers.pop("X-Hub-Signature-256")
    assert (
        await setup.http.post(setup.url + "/github/webhook", content=body, headers=headers)
    ).status_code == 401
    assert await setup.store.unanswered_deployments() == []


async def test_the_deploy_waits_for_go_and_is_approved_once(setup: Setup) -> None:
    answer = await setup.deliver("d-1")
    assert (answer.status_code, answer.json()) == (202, {"recorded": True})
    again = await setup.deliver("d-1")  # GitHub redelivers
    assert again.json() == {"recorded": False}
    [waiting] = await setup.store.unanswered_deployments()
    assert (waiting.environment, waiting.ref, waiting.sha) == ("production", "v2.0.0", "abc1234def5678")
    assert waiting.callback_url == setup.github.callback_url("valeo/shop", 99)
    assert setup.printed.getvalue().count("waiting for GO") == 1
    assert "production deploy of valeo/shop@abc1234 (GitHub) is waiting for GO" in setup.printed.getvalue()

    run_id, _ = await usecases.execute_run(setup.checklist, setup.store)
    assert await setup.answer() == []  # NO-GO: the sign-off is missing
    assert setup.github.answers == []

    await usecases.sign_off(setup.checklist, setup.store, "devops", user=DEVOPS)
    # Two replicas' rounds at once: exactly one answer reaches GitHub.
    both = await asyncio.gather(setup.answer(), setup.answer())
    assert sorted(both, key=len) == [[], [("d-1", True)]]
    assert setup.github.refused == []
    [sent] = setup.github.answers
    assert sent.path == "/repos/valeo/shop/actions/runs/99/deployment_protection_rule"
    assert sent.body["environment_name"] == "production"
    assert sent.body["state"] == "approved"
    assert f"GO on run #{run_id} for Shop 2.0.0" in sent.body["comment"]
    assert f"DevOps-Team ({DEVOPS}," in sent.body["comment"]
    assert await setup.answer() == []
    assert await setup.store.unanswered_deployments() == []
    assert "Released the production deploy of valeo/shop@abc1234 (GitHub)" in setup.printed.getvalue()


async def go(setup: Setup) -> None:
    await usecases.execute_run(setup.checklist, setup.store)
    await usecases.sign_off(setup.checklist, setup.store, "devops", user=DEVOPS)


@pytest.mark.parametrize(
    ("status", "headers"),
    [(503, {}), (429, {"Retry-After": "1"}), (403, {"X-RateLimit-Remaining": "0"})],
    ids=["github failing", "too many requests", "rate limit"],
)
async def test_an_answer_github_could_not_take_is_sent_again_at_the_next_round(
    setup: Setup, status: int, headers: dict[str, str]
) -> None:
    await setup.deliver("d-7")
    await go(setup)
    setup.github.failing, setup.github.failure_headers = [status], headers
    assert await setup.answer() == []
    [waiting] = await setup.store.unanswered_deployments()
    assert waiting.state == "retrying"
    assert f"HTTP {status}" in (waiting.comment or "")
    assert setup.github.answers == []

    assert await setup.answer() == [("d-7", True)]
    assert [a.body["state"] for a in setup.github.answers] == ["approved"]
    [answered] = await setup.store.deployments(1)
    assert answered.state == "approved"
    assert "Released the production deploy" in setup.printed.getvalue()


async def test_an_unreachable_github_is_asked_again_and_nothing_is_lost(setup: Setup) -> None:
    await setup.deliver("d-8")
    await go(setup)
    await setup.github.stop()  # GitHub down: no connection at all
    assert await setup.answer() == []
    [waiting] = await setup.store.unanswered_deployments()
    assert waiting.state == "retrying"
    assert "cannot be reached" in (waiting.comment or "")
    await setup.github.restart()
    assert await setup.answer() == [("d-8", True)]
    assert len(setup.github.answers) == 1


async def test_an_answer_whose_reply_was_lost_is_repeated_and_a_refused_repeat_is_uncertain(
    setup: Setup,
) -> None:
    """GitHub took the approval but the reply was a gateway error: golive cannot know,
    asks again, and when the repeat is refused says the deploy may have been released
    instead of calling it failed."""
    await setup.deliver("d-9")
    await go(setup)
    setup.github.failing_after_taking = [502]
    assert await setup.answer() == []
    [waiting] = await setup.store.unanswered_deployments()
    assert waiting.state == "uncertain"

    assert await setup.answer() == []
    assert await setup.store.unanswered_deployments() == []
    [recorded] = await setup.store.deployments(1)
    assert recorded.state == "uncertain"
    assert "HTTP 422" in (recorded.comment or "") and "HTTP 502" in (recorded.comment or "")
    assert len(setup.github.answers) == 1  # applied once, whatever golive could tell
    assert "may or may not have reached GitHub" in setup.printed.getvalue()
    assert await setup.answer() == []  # settled: not asked again


async def test_an_answer_github_refuses_is_failed_once_and_said_in_the_channel(setup: Setup) -> None:
    await setup.deliver("d-10")
    await go(setup)
    setup.github.failing = [404]
    assert await setup.answer() == []
    [failed] = await setup.store.deployments(1)
    assert (failed.state, failed.answered_at is not None) == ("failed", True)
    assert "HTTP 404" in (failed.comment or "")
    assert await setup.answer() == []  # not asked again
    assert setup.github.answers == []
    assert setup.printed.getvalue().count("Could not answer the production deploy") == 1


async def test_a_deploy_of_another_version_is_rejected_at_once(setup: Setup) -> None:
    await setup.deliver("d-2", ref="v1.9.0")
    assert await setup.answer() == [("d-2", False)]
    [sent] = setup.github.answers
    assert sent.body["state"] == "rejected"
    assert sent.body["comment"] == "the ref v1.9.0 is not the release Shop 2.0.0."


async def test_a_deploy_that_waited_too_long_is_rejected(setup: Setup) -> None:
    await usecases.execute_run(setup.checklist, setup.store)
    await setup.deliver("d-3", ref="refs/tags/v2.0.0")
    assert await setup.answer(wait_minutes=0) == [("d-3", False)]
    [sent] = setup.github.answers
    assert sent.body["state"] == "rejected"
    assert "no GO for Shop 2.0.0 within 0 minutes; blocked by signoff:devops" in sent.body["comment"]


async def test_the_token_is_never_sent_to_a_callback_elsewhere(setup: Setup) -> None:
    body, headers = protection_delivery(setup.github, delivery="d-4", ref="v1.0.0")
    forged = body.replace(setup.github.url.encode(), b"http://127.0.0.1:9")
    headers["X-Hub-Signature-256"] = signature(WEBHOOK_SECRET, forged)
    assert (
        await setup.http.post(setup.url + "/github/webhook", content=forged, headers=headers)
    ).status_code == 202
    assert await setup.answer() == []
    [failed] = await setup.store.deployments(1)
    assert failed.state == "failed"
    assert "is not on" in (failed.comment or "")
    assert setup.github.tokens_issued == 0


async def test_a_jwt_signed_with_another_key_gets_no_token(setup: Setup) -> None:
    other = GitHubSettings(
        app_id=APP_ID, private_key=private_key(), webhook_secret=WEBHOOK_SECRET, api_url=setup.github.url
    )
    await setup.deliver("d-5", ref="v0.1.0")
    app = GitHubApp(other, setup.http)
    assert await protection.answer_pending(setup.checklist, setup.store, app, wait_minutes=60) == []
    assert setup.github.refused == ["JWT signature does not verify with the App's public key"]
    assert setup.github.answers == []


async def test_the_go_message_names_the_deploys_it_releases(setup: Setup) -> None:
    await setup.deliver("d-6")
    await usecases.execute_run(setup.checklist, setup.store)
    await usecases.sign_off(setup.checklist, setup.store, "devops", user=DEVOPS)
    changes = await announce_change(
        setup.checklist, setup.store, setup.channel.surface, setup.channel.channel
    )
    assert [c.value for c in changes] == ["GO"]
    go_message = setup.printed.getvalue().split("waiting for GO", 1)[1]
    assert "unblocked: production deploy of valeo/shop@abc1234 (GitHub)" in go_message


async def test_slack_status_lists_the_deploys_waiting(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        release_id = await h.store.release_id("Shop", "2.0.0")
        await h.store.record_deployment(
            release_id,
            forge="GitHub",
            delivery_id="d-7",
            repository="valeo/shop",
            environment="production",
            ref="v2.0.0",
            sha="abc1234def",
            installation_id=1,
            callback_url="https://api.github.com/repos/valeo/shop/actions/runs/1/deployment_protection_rule",
            at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
        )
        await h.command("status")
        await h.settle()
        texts = [c.params["text"] for c in h.slack.answers()]
        assert texts[-1] == (
            "Deploys waiting for GO\n"
            "• production deploy of valeo/shop@abc1234 (GitHub), waiting since 2026-12-07 09:30"
        )
