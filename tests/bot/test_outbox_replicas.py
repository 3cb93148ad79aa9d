"""Two real ``golive serve`` processes on one PostgreSQL. Slack takes the leader's
regression alert and closes the connection, and the channel's history cannot be read
either: the alert is left in the outbox, in doubt. The leader is killed; the new leader
resumes the outbox after its next run, finds the alert in the history by its metadata,
and does not post it again. Exactly one alert, then one resolved post."""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import pytest

from golive.storage import Store
from tests.services.postgres import PostgresDatabase

from .fake_slack import FakeSlack
from .serve_process import ServeProcess, serve_process
from .slack_support import CHANNEL, Target
from .test_replicas import LEASE, RELEASE, pid_of, scheduled_checklist, scheduled_runs, slack, target, until

pytestmark = pytest.mark.services

__all__ = ["slack", "target"]  # the fixtures, shared with the replicas' test

REGRESSION = ":rotating_light: Regression"


async def test_an_alert_in_doubt_when_the_leader_dies_is_settled_by_the_next_leader(
    tmp_path: Path, postgres_database: PostgresDatabase, target: Target, slack: FakeSlack
) -> None:
    checklist = scheduled_checklist(tmp_path, target.server_address[1])
    env = {"GOLIVE_LEASE_SECONDS": f"{LEASE:g}", "GOLIVE_SHUTDOWN_GRACE": "20"}
    store = await Store.open(postgres_database.url)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(store.close)
        started = [
            serve_process(tmp_path, checklist, slack, env, db_url=postgres_database.url, name=f"replica-{n}")
            for n in range(2)
        ]
        replicas: list[ServeProcess] = list(
            await asyncio.gather(*(stack.enter_async_context(s) for s in started))
        )
        by_pid = {r.process.pid: r for r in replicas}

        async def leader() -> ServeProcess | None:
            lease = await store.lease("golive-leader")
            if lease is None or lease.expires_in <= timedelta(0):
                return None
            return by_pid.get(pid_of(lease.holder))

        async def completed() -> bool:
            return any(r.status == "complete" for r in await scheduled_runs(store))

        await until("a leader", leader, 30)
        first = await leader()
        assert first is not None
        await until("a scheduled run", completed, 30)

        slack.fail_next_with("chat.postMessage", REGRESSION, "applied-reset")
        slack.fail_next("conversations.history", "500", "500", "500")
        target.status = 503
        release = await store.release_id(*RELEASE)

        async def in_doubt() -> bool:
            return any(e.attempts for e in await store.pending_outbox(release))

        await until("the alert left in the outbox", in_doubt, 30)
        assert len(slack.channel_posts(CHANNEL, REGRESSION)) == 1, "Slack has it"
        first.process.send_signal(signal.SIGKILL)
        await first.process.wait()
        [second] = [r for r in replicas if r is not first]

        async def settled() -> bool:
            return await store.pending_outbox(release) == []

        await until("the outbox settled", settled, 60)
        assert any("was posted before" in line for line in second.log_lines()), "by the new leader"
        assert len(slack.channel_posts(CHANNEL, REGRESSION)) == 1

        target.status = 200

        async def resolved() -> bool:
            return bool(slack.channel_posts(CHANNEL, "Resolved"))

        await until("the resolved post", resolved, 60)
        assert await second.terminate() == 0, "\n".join(second.log_lines()[-20:])
        assert len(slack.channel_posts(CHANNEL, REGRESSION)) == 1
        assert len(slack.channel_posts(CHANNEL, "Resolved")) == 1
