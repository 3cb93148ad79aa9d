"""Every change of the verdict told to the channel once: GO withdrawn (with the reason and
who or what caused it) and GO again. Through the real Bolt app and slack_sdk client
against the local Slack Web API; replicas as two bots on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from golive.bot.core import usecases
from golive.bot.core.scheduler import VERDICT_JOB
from golive.checks.status import Status
from golive.storage import Store
from tests.services.postgres import PostgresDatabase

from .fake_slack import FakeSlack
from .serve_process import action, command, serve_process
from .slack_support import DEVOPS, OPS, Harness, Target, _Handler, checklist_file, harness
from .test_replicas import until
from .test_slack import confirm_runbook
from .watch_support import T0, world


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as built:
        yield built


def channel_posts(*slacks: FakeSlack) -> list[str]:
    return [
        str(c.params["text"])
        for slack in slacks
        for c in slack.ok_calls("chat.postMessage")
        if not c.params.get("thread_ts")
    ]


def go_posts(*slacks: FakeSlack) -> list[str]:
    return [t for t in channel_posts(*slacks) if t.startswith(":rocket: GO for")]


def withdrawals(*slacks: FakeSlack) -> list[str]:
    return [t for t in channel_posts(*slacks) if t.startswith(":no_entry: NO-GO for")]


async def reach_go(h: Harness) -> None:
    """A passing run, the runbook confirmed, both roles signed: GO is announced."""
    await h.command("run")
    await h.settle()
    await confirm_runbook(h)
    await h.action("golive_signoff", "devops", DEVOPS)
    await h.settle()
    await h.action("golive_signoff", "ops", OPS)
    await h.settle()
    assert len(go_posts(h.slack)) == 1, channel_posts(h.slack)


async def test_revoking_after_go_withdraws_it_once_and_signing_again_announces_go_again(h: Harness) -> None:
    await reach_go(h)
    # A double click: two requests, one revocation, one withdrawal.
    await asyncio.gather(
        h.action("golive_revoke", "devops", DEVOPS), h.action("golive_revoke", "devops", DEVOPS)
    )
    await h.settle()
    withdrawn = withdrawals(h.slack)
    assert len(withdrawn) == 1, channel_posts(h.slack)
    assert "DevOps-Team sign-off was revoked by" in withdrawn[0]
    assert f"<@{DEVOPS}>" in str(h.slack.ok_calls("chat.postMessage")[-1].params["blocks"])
    # Nothing changed since: a status command or another reconciliation says nothing new.
    await h.bot.scheduler.check_verdict()
    await h.command("status")
    await h.settle()
    assert len(withdrawals(h.slack)) == 1

    await h.action("golive_signoff", "devops", DEVOPS)
    await h.settle()
    assert len(go_posts(h.slack)) == 2, channel_posts(h.slack)
    await h.bot.scheduler.check_verdict()
    await h.command("run")
    await h.settle()
    assert len(go_posts(h.slack)) == 2, "GO again is announced once"
    assert len(withdrawals(h.slack)) == 1


async def test_a_withdrawal_slack_did_not_take_is_posted_by_the_next_timer_round(h: Harness) -> None:
    await reach_go(h)
    # Three 500s: the post and both re-posts after the history showed it was not taken.
    h.slack.fail_next("chat.postMessage", "500", "500", "500")
    await h.action("golive_revoke", "ops", OPS)
    await h.settle()
    assert withdrawals(h.slack) == [], "Slack did not take it"
    assert await h.bot.scheduler.check_verdict() == [], "the change was told already"
    assert len(withdrawals(h.slack)) == 1, "the outbox posted it"
    assert await h.bot.scheduler.check_verdict() == []
    withdrawn = withdrawals(h.slack)
    assert len(withdrawn) == 1 and "Operations sign-off was revoked by" in withdrawn[0]


async def test_revoking_before_go_tells_the_channel_nothing(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    await h.action("golive_signoff", "devops", DEVOPS)
    await h.settle()
    await h.action("golive_revoke", "devops", DEVOPS)
    await h.settle()
    assert withdrawals(h.slack) == [] and go_posts(h.slack) == []


async def test_a_waiver_that_turns_the_verdict_go_announces_it(h: Harness) -> None:
    h.target.status = 500
    await h.command("run")
    await h.settle()
    await confirm_runbook(h)
    await h.action("golive_signoff", "devops", DEVOPS)
    await h.settle()
    await h.action("golive_signoff", "ops", OPS)
    await h.settle()
    assert go_posts(h.slack) == []
    await h.command("waive health 1 INC-7 upstream outage, fixed tomorrow", user=DEVOPS)
    await h.settle()
    assert len(go_posts(h.slack)) == 1, channel_posts(h.slack)


async def test_a_waiver_expiring_withdraws_go_on_the_timer_and_says_whose_waiver(h: Harness) -> None:
    h.target.status = 500
    await h.command("run")
    await h.settle()
    await confirm_runbook(h)
    await h.command("waive health 0.5 INC-7 upstream outage, fixed tomorrow", user=DEVOPS)
    await h.settle()
    await h.action("golive_signoff", "devops", DEVOPS)
    await h.settle()
    await h.action("golive_signoff", "ops", OPS)
    await h.settle()
    assert len(go_posts(h.slack)) == 1, channel_posts(h.slack)

    scheduler = h.bot.scheduler
    now = usecases.utcnow()
    await scheduler.check_verdict(now + timedelta(hours=11))
    assert withdrawals(h.slack) == [], "the waiver still holds"
    later = now + timedelta(hours=13)
    await asyncio.gather(scheduler.check_verdict(later), scheduler.check_verdict(later))
    withdrawn = withdrawals(h.slack)
    assert len(withdrawn) == 1, channel_posts(h.slack)
    assert "waiver of Health-Checks erfolgreich (health)" in withdrawn[0]
    assert "expired" in withdrawn[0] and "FAIL" in withdrawn[0]
    await scheduler.check_verdict(later + timedelta(minutes=1))
    assert len(withdrawals(h.slack)) == 1


async def test_a_signoff_expiring_withdraws_go_on_the_timer(tmp_path: Path) -> None:
    roles: list[dict[str, Any]] = [
        {"id": "devops", "title": "DevOps-Team", "approvers": {"users": [DEVOPS]}, "max_age": "2h"},
        {"id": "ops", "title": "Operations", "approvers": {"users": [OPS]}},
    ]
    async with harness(tmp_path, extra={"signoffs": roles}) as h:
        await reach_go(h)
        await h.bot.scheduler.check_verdict(usecases.utcnow() + timedelta(hours=3))
        withdrawn = withdrawals(h.slack)
        assert len(withdrawn) == 1, channel_posts(h.slack)
        assert "DevOps-Team" in withdrawn[0] and "older than" in withdrawn[0]


async def test_stale_evidence_withdraws_go_on_the_timer(h: Harness) -> None:
    await reach_go(h)
    await h.bot.scheduler.check_verdict(usecases.utcnow() + timedelta(hours=25))
    withdrawn = withdrawals(h.slack)
    assert len(withdrawn) == 1, channel_posts(h.slack)
    assert "Health-Checks erfolgreich (health)" in withdrawn[0] and Status.STALE in withdrawn[0]


async def test_the_verdict_timer_is_a_leader_job(h: Harness) -> None:
    scheduler = h.bot.scheduler
    assert scheduler.job(VERDICT_JOB) is None, "not leading: no timer"
    await scheduler.start()
    try:
        assert scheduler.job(VERDICT_JOB) is not None
    finally:
        scheduler.shutdown()
    assert scheduler.job(VERDICT_JOB) is None


async def test_german_withdrawal_names_the_revoker(tmp_path: Path) -> None:
    async with harness(tmp_path, language="de") as h:
        await h.command("run")
        await h.settle()
        await confirm_runbook(h)
        await h.action("golive_signoff", "devops", DEVOPS)
        await h.action("golive_signoff", "ops", OPS)
        await h.settle()
        await h.action("golive_revoke", "ops", OPS)
        await h.settle()
        withdrawn = [t for t in channel_posts(h.slack) if t.startswith(":no_entry: NO-GO für")]
        assert len(withdrawn) == 1, channel_posts(h.slack)
        assert "Sign-off Operations wurde von" in withdrawn[0] and "zurückgezogen" in withdrawn[0]


@pytest.mark.services
async def test_two_replicas_announce_each_transition_once(
    tmp_path: Path, postgres_database: PostgresDatabase
) -> None:
    """Two bots on one database, each with its own Slack endpoint: clicks land on either,
    the timer runs on the other; every change is told once across both."""
    async with AsyncExitStack() as stack:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        a = await stack.enter_async_context(harness(tmp_path / "a", db_url=postgres_database.url))
        b = await stack.enter_async_context(harness(tmp_path / "b", db_url=postgres_database.url))
        await reach_go(a)
        assert go_posts(b.slack) == []

        # Revoked on B while A's timer runs: one withdrawal, from whichever claims it.
        await asyncio.gather(
            b.action("golive_revoke", "ops", OPS),
            a.bot.scheduler.check_verdict(),
            a.bot.scheduler.check_verdict(),
        )
        await b.settle()
        await a.bot.scheduler.check_verdict()
        await b.bot.scheduler.check_verdict()
        assert len(withdrawals(a.slack, b.slack)) == 1, channel_posts(a.slack, b.slack)

        # Signed again on B and, at once, checked on A: GO again, once.
        await asyncio.gather(b.action("golive_signoff", "ops", OPS), a.bot.scheduler.check_verdict())
        await b.settle()
        await a.bot.scheduler.check_verdict()
        assert len(go_posts(a.slack, b.slack)) == 2, channel_posts(a.slack, b.slack)

        # Revoked on A, then both clicks and timers: the second withdrawal, once.
        await asyncio.gather(
            a.action("golive_revoke", "devops", DEVOPS),
            b.action("golive_revoke", "devops", DEVOPS),
            b.bot.scheduler.check_verdict(),
        )
        await asyncio.gather(a.settle(), b.settle())
        assert len(withdrawals(a.slack, b.slack)) == 2, channel_posts(a.slack, b.slack)
        assert len(go_posts(a.slack, b.slack)) == 2


# -- two real `golive serve` processes ------------------------------------------------------

EXPIRY = 10.0  # seconds the DevOps sign-off holds


async def posted(slack: FakeSlack, pick: Callable[..., list[str]], count: int, timeout: float) -> list[str]:
    """Wait until ``pick`` finds ``count`` posts; the posts."""
    await until(f"{count} post(s)", lambda: _true(len(pick(slack)) >= count), timeout)
    return pick(slack)


async def _true(value: bool) -> bool:
    return value


@pytest.mark.services
async def test_two_serve_processes_tell_each_change_once_and_the_leader_times_the_expiry(
    tmp_path: Path, postgres_database: PostgresDatabase
) -> None:
    roles: list[dict[str, Any]] = [
        {"id": "devops", "title": "DevOps-Team", "approvers": {"users": [DEVOPS]}, "max_age": f"{EXPIRY:g}s"},
        {"id": "ops", "title": "Operations", "approvers": {"users": [OPS]}},
    ]
    env = {"GOLIVE_LEASE_SECONDS": "2", "GOLIVE_VERDICT_SECONDS": "1"}
    target = Target(("127.0.0.1", 0), _Handler)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    path = checklist_file(tmp_path, target.server_address[1], extra={"signoffs": roles})
    document = yaml.safe_load(path.read_text())
    del document["phases"][0]["sections"][0]["items"][1]  # no manual item to confirm
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    slack = await FakeSlack().start()
    store = await Store.open(postgres_database.url)
    async with AsyncExitStack() as stack, httpx.AsyncClient(timeout=5) as http:
        stack.callback(target.server_close)
        stack.callback(target.shutdown)
        stack.push_async_callback(slack.stop)
        stack.push_async_callback(store.close)
        a, b = await asyncio.gather(
            *(
                stack.enter_async_context(
                    serve_process(tmp_path, path, slack, env, db_url=postgres_database.url, name=name)
                )
                for name in ("replica-a", "replica-b")
            )
        )
        await until("a leader", lambda: store.lease("golive-leader"), 30)
        release = await store.release_id("Shop", "2.0.0")

        async def run_complete() -> bool:
            return any(r.status == "complete" for r in await store.runs(release))

        await command(http, a, "run")
        await until("the run", run_complete, 30)
        await action(http, a, "golive_signoff", "ops", OPS)
        await action(http, b, "golive_signoff", "devops", DEVOPS)
        await posted(slack, go_posts, 1, 10)

        # Nobody clicks: the DevOps sign-off expires, the leader's timer withdraws GO.
        withdrawn = await posted(slack, withdrawals, 1, EXPIRY + 10)
        assert "DevOps-Team" in withdrawn[0] and "older than" in withdrawn[0], withdrawn

        # Revoked (nothing to tell: NO-GO stands) and signed again on the other replica.
        await action(http, b, "golive_revoke", "devops", DEVOPS)
        await until("the revocation", lambda: _revoked(store, release, "devops"), 10)
        await action(http, a, "golive_signoff", "devops", DEVOPS)
        await posted(slack, go_posts, 2, 10)

        # The Operations sign-off revoked by two clicks, one on each replica.
        await asyncio.gather(
            action(http, a, "golive_revoke", "ops", OPS), action(http, b, "golive_revoke", "ops", OPS)
        )
        withdrawn = await posted(slack, withdrawals, 2, 10)
        assert "the Operations sign-off was revoked by" in withdrawn[1], withdrawn

        await asyncio.sleep(3)  # the timer ticks on: nothing is told twice
        assert len(go_posts(slack)) == 2 and len(withdrawals(slack)) == 2, channel_posts(slack)
        for replica in (a, b):
            assert await replica.terminate() == 0, "\n".join(replica.log_lines()[-20:])


async def _revoked(store: Store, release: int, role: str) -> bool:
    return any(s.role == role and s.revoked_at is not None for s in await store.signoffs(release))


# -- a run's after-run work racing a click on another replica -------------------------------


async def test_a_run_that_read_no_go_before_a_click_announced_go_does_not_withdraw_it(
    tmp_path: Path,
) -> None:
    """The run ends NO-GO (Operations has not signed); before its after-run work, Operations
    signs on another replica and GO is announced there. The run's state is older than that
    GO: it must not withdraw it."""
    async with world(tmp_path) as w:
        w.at = T0
        await usecases.confirm_item(
            w.checklist, w.store, "runbook", user=OPS, evidence_url="https://wiki.example/rb", now=w.clock
        )
        await w.run(T0)
        await usecases.sign_off(w.checklist, w.store, "devops", user=DEVOPS, now=w.clock)
        w.at = T0 + timedelta(minutes=15)
        run_id, state = await usecases.execute_run(w.checklist, w.store, now=w.clock)
        assert not state.verdict.go

        await usecases.sign_off(w.checklist, w.store, "ops", user=OPS, now=w.clock)
        assert await w.announce(), "GO, announced by the replica that took the click"
        await w.notifier.after_run(run_id, state)

        assert len(w.posts(":rocket: GO for Shop")) == 1
        assert w.posts("NO-GO for Shop") == [], w.post_texts()
