"""Regression alerts without noise: the pure decisions first, then the posts a local Slack
server receives from the notifier after real runs against a local HTTP target, with a
clock the test moves (hours pass in milliseconds)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from golive.bot.core import alert_rules
from golive.bot.core.alert_rules import AlertDecision
from golive.checks.loader import loads
from golive.checks.model import Checklist, Item
from golive.checks.status import Status
from golive.storage import AlertState

from .watch_support import DEVOPS, OPS, T0, World, minutes, world

P, W, F, E, S = Status.PASS, Status.WARN, Status.FAIL, Status.ERROR, Status.STALE
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)

CHECKLIST = """
release: {name: Shop, version: '2.0.0'}
signoffs: [{id: devops, title: DevOps-Team, approvers: {users: [U0DEVOPS]}}]
phases:
  - id: p1
    title: P1
    owner: devops
    sections:
      - id: s1
        title: S1
        items:
          - {id: plain, title: Plain, probe: {type: manual}}
          - {id: flappy, title: Flappy, probe: {type: manual}, alert: {fail_threshold: 2, window: 3}}
          - {id: advisory, title: Advisory, probe: {type: manual}, blocking: false}
alerts:
  silences:
    - {items: [plain], start: 2026-03-02T10:00:00+00:00, end: 2026-03-02T11:00:00+00:00, reason: DB failover}
  maintenance:
    - {start: '02:00', end: '03:00', timezone: Europe/Berlin}
"""


@pytest.fixture(scope="module")
def checklist() -> Checklist:
    return loads(CHECKLIST, env={})


class Replay:
    """Feeds statuses through ``alert_rules.decide`` the way the notifier does: the state it
    returns is the next run's previous state, history newest first."""

    def __init__(self, item: Item, reminder: timedelta | None = timedelta(hours=4)) -> None:
        self.item = item
        self.reminder = reminder
        self.state: AlertState | None = None
        self.history: list[Status] = []
        self.posts: list[str] = []

    def run(
        self, status: Status, at: datetime, silenced: bool = False, temporary: bool = False
    ) -> AlertDecision:
        self.history.insert(0, status)
        decision = alert_rules.decide(
            self.item,
            self.history,
            self.state,
            now=at,
            reminder=self.reminder,
            silenced=silenced,
            temporary=temporary,
        )
        self.state = decision.state
        self.posts.append(decision.post.kind if decision.post else "-")
        return decision

    def runs(self, statuses: Sequence[Status], start: datetime = T0, every: timedelta = QUARTER) -> list[str]:
        for index, status in enumerate(statuses):
            self.run(status, start + index * every)
        return self.posts


def test_a_regression_alerts_once_and_resolves_once(checklist: Checklist) -> None:
    replay = Replay(checklist.item("plain"))
    assert replay.runs([P, P, F, F, E, F, P, P]) == ["-", "-", "failing", "-", "-", "-", "resolved", "-"]


def test_a_single_temporary_error_is_no_alert(checklist: Checklist) -> None:
    replay = Replay(checklist.item("plain"))
    replay.runs([P, P])
    assert replay.run(E, T0 + HOUR, temporary=True).post is None
    assert replay.run(P, T0 + 2 * HOUR).post is None
    assert replay.posts == ["-", "-", "-", "-"], "neither an alert nor a 'resolved'"


def test_a_temporary_error_that_stays_alerts_on_the_second_run(checklist: Checklist) -> None:
    replay = Replay(checklist.item("plain"))
    replay.runs([P, P])
    replay.run(E, T0 + HOUR, temporary=True)
    replay.run(E, T0 + 2 * HOUR, temporary=True)
    assert replay.posts == ["-", "-", "-", "failing"]


def test_a_permanent_error_alerts_at_once(checklist: Checklist) -> None:
    replay = Replay(checklist.item("plain"))
    assert replay.runs([P, P, E]) == ["-", "-", "failing"]


def test_an_item_that_never_passed_does_not_regress(checklist: Checklist) -> None:
    replay = Replay(checklist.item("plain"))
    assert replay.runs([F, F, P, F]) == ["-", "-", "-", "failing"]


def test_pending_and_skipped_change_nothing(checklist: Checklist) -> None:
    replay = Replay(checklist.item("plain"))
    assert replay.runs([P, Status.PENDING, Status.SKIPPED, F, Status.SKIPPED, P]) == [
        "-",
        "-",
        "-",
        "failing",
        "-",
        "resolved",
    ]


def test_reminders_fall_due_per_interval_and_once_each(checklist: Checklist) -> None:
    replay = Replay(checklist.item("plain"))
    replay.run(P, T0)
    failed = replay.run(F, T0 + minutes(15))
    assert failed.post is not None and failed.post.kind == "failing"
    # Every 15 minutes for 9 hours: reminders at +4 h and +8 h after the failure only.
    kinds = [replay.run(F, T0 + minutes(15) + minutes(15 * n)).post for n in range(1, 37)]
    reminders = [(n + 1, post) for n, post in enumerate(kinds) if post is not None]
    assert [(n, post.kind) for n, post in reminders] == [(16, "reminder"), (32, "reminder")]
    assert reminders[0][1].key != reminders[1][1].key


def test_no_reminder_when_switched_off(checklist: Checklist) -> None:
    replay = Replay(checklist.item("plain"), reminder=None)
    assert replay.runs([P, F, F, F], every=5 * HOUR) == ["-", "failing", "-", "-"]


def test_flap_control_two_of_three(checklist: Checklist) -> None:
    flappy = checklist.item("flappy")
    # Lone failures never alert; two failures within three runs do, once.
    assert Replay(flappy).runs([P, F, P, P, F, P, P, F, P]) == ["-"] * 9
    assert Replay(flappy).runs([P, F, P, F, F, P, P, P]) == [
        "-",
        "-",
        "-",
        "failing",
        "-",
        "-",
        "resolved",
        "-",
    ]


def test_warn_is_its_own_quieter_tier(checklist: Checklist) -> None:
    plain = checklist.item("plain")
    assert Replay(plain).runs([P, W, W, F, W, P]) == ["-", "degraded", "-", "failing", "degraded", "resolved"]
    # Degraded items get no reminders.
    assert Replay(plain).runs([P, W, W, W], every=5 * HOUR) == ["-", "degraded", "-", "-"]


def test_a_failing_non_blocking_item_is_only_degraded(checklist: Checklist) -> None:
    assert Replay(checklist.item("advisory")).runs([P, F, F, P]) == ["-", "degraded", "-", "resolved"]


def test_stale_evidence_is_failing(checklist: Checklist) -> None:
    assert Replay(checklist.item("plain")).runs([P, S, P]) == ["-", "failing", "resolved"]


def test_a_silence_holds_back_and_alerts_what_is_still_failing_after(checklist: Checklist) -> None:
    replay = Replay(checklist.item("plain"))
    replay.run(P, T0)
    held = replay.run(F, T0 + minutes(15), silenced=True)
    assert held.post is None and held.held_back is not None and held.held_back.kind == "failing"
    replay.run(P, T0 + minutes(30), silenced=True)
    replay.run(F, T0 + minutes(45), silenced=True)
    assert replay.run(F, T0 + minutes(60)).post is not None
    assert replay.posts == ["-", "-", "-", "-", "failing"]


def test_claim_keys_follow_the_state_not_the_run(checklist: Checklist) -> None:
    """A process that posted but died before storing the state decides the same post
    again from the same stored state: same key, so the claim stops a second post."""
    item = checklist.item("plain")
    previous = AlertState("plain", "ok", since=T0)
    first = alert_rules.decide(item, [F], previous, now=T0 + minutes(15), reminder=None)
    again = alert_rules.decide(item, [F, F], previous, now=T0 + minutes(30), reminder=None)
    assert first.post is not None and again.post is not None
    assert first.post.key == again.post.key == f"alert:plain:failing:{T0.isoformat()}"


def test_silences_and_maintenance_windows(checklist: Checklist) -> None:
    reason = alert_rules.silence_reason
    config = checklist.alerts
    at = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    assert reason(config, "plain", at) is not None
    assert reason(config, "flappy", at) is None, "the silence names one item"
    assert reason(config, "plain", datetime(2026, 3, 2, 11, 0, tzinfo=UTC)) is None, "end is exclusive"
    # 02:30 in Berlin is 01:30 UTC in winter: every item, every day.
    assert reason(config, "flappy", datetime(2026, 3, 5, 1, 30, tzinfo=UTC)) is not None
    assert reason(config, "flappy", datetime(2026, 3, 5, 2, 30, tzinfo=UTC)) is None


def test_rollback_trigger_fires_once_after_holding() -> None:
    hold = timedelta(minutes=5)

    def step(
        previous: AlertState | None, firing: bool, at: datetime, period: int = 0
    ) -> alert_rules.TriggerDecision:
        return alert_rules.decide_trigger("errors", previous, firing, now=at, hold=hold, period=period)

    seen = step(None, True, T0)
    assert not seen.call and seen.state is not None and seen.state.state == "pending"
    assert not step(seen.state, True, T0 + minutes(4)).call
    cleared = step(seen.state, False, T0 + minutes(4))
    assert cleared.state is not None and cleared.state.state == "clear", "a pause starts the hold over"
    again = step(cleared.state, True, T0 + minutes(6))
    assert not step(again.state, True, T0 + minutes(10)).call
    fired = step(again.state, True, T0 + minutes(11))
    assert fired.call and fired.state is not None and fired.state.since == T0 + minutes(6)
    assert not step(fired.state, True, T0 + minutes(12)).call
    next_go = step(fired.state, True, T0 + minutes(12), period=1)
    assert next_go.state is not None and next_go.state.state == "pending", "a new GO starts over"
    assert alert_rules.decide_trigger("x", None, True, now=T0, hold=None, period=0).call, "no hold: at once"


# -- the notifier, end to end ------------------------------------------------------------


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async with world(tmp_path) as built:
        yield built


def alert_posts(w: World, header: str) -> list[str]:
    return [t for t in w.post_texts() if header in t]


async def test_one_alert_reminders_at_their_interval_one_resolution_and_restarts(w: World) -> None:
    from golive.bot.ops.metrics import METRICS

    def sent(kind: str) -> float:
        return METRICS.registry.get_sample_value("golive_alerts_sent_total", {"kind": kind}) or 0.0

    before = sent("failing")
    await w.run(T0)
    w.target.set("health", 500, "DOWN")
    await w.run(T0 + minutes(15))
    failing = w.posts("Regression")
    assert len(failing) == 1
    assert sent("failing") == before + 1
    blocks = json.dumps(failing[0].params["blocks"], ensure_ascii=False)
    for expected in (
        "Health prüfen",
        "`health`",
        "[STATUS] = 500, limit == 200",
        f"<@{DEVOPS}>",
        "<!subteam^S0DEVOPS>",
        "run #2",
    ):
        assert expected in blocks, expected
    assert "/golive diff 1 2" in blocks
    failed_at = T0 + minutes(15)
    for hours in (1, 2, 3, 3.75):  # quiet until the reminder is due
        await w.run(failed_at + hours * HOUR)
    assert len(w.post_texts()) == 1
    await w.run(failed_at + 4 * HOUR)
    [reminder] = w.posts("Still failing")
    reminded = json.dumps(reminder.params["blocks"])
    assert "since 2026-03-02 08:15 UTC" in reminded and f"<@{DEVOPS}>" in reminded
    await w.restart()
    await w.run(failed_at + 5 * HOUR)
    assert len(w.post_texts()) == 2, "a restart repeats nothing"
    w.target.set("health", 200, "UP")
    await w.run(failed_at + 5.25 * HOUR)
    resolved = w.posts("Resolved")
    assert len(resolved) == 1 and "health" in resolved[0].params["text"], "nor forgets the alert"
    assert "not fine since 2026-03-02 08:15 UTC" in json.dumps(resolved[0].params["blocks"])
    await w.restart()
    await w.run(failed_at + 5.5 * HOUR)
    assert len(w.post_texts()) == 3


async def test_many_regressions_in_one_run_are_one_post(w: World) -> None:
    await w.run(T0)
    w.target.set("health", 503, "DOWN")
    w.target.set("flappy", 503, "DOWN")
    await w.run(T0 + minutes(15))
    await w.run(T0 + minutes(30))  # flappy's second failure within three runs
    assert len(w.posts("Regression")) == 2
    w.target.set("health", 200, "UP")
    w.target.set("flappy", 200, "UP")
    await w.run(T0 + minutes(45))
    await w.run(T0 + minutes(60))
    await w.run(T0 + minutes(75))
    resolved = w.posts("Resolved")
    assert [("health" in c.params["text"], "(+1)" in c.params["text"]) for c in resolved] == [
        (True, False),
        (False, False),
    ]


async def test_warn_tier_is_quiet(w: World) -> None:
    await w.run(T0)
    w.target.set("health", 200, "DEGRADED")
    await w.run(T0 + minutes(15))
    degraded = w.posts("Degraded")
    assert len(degraded) == 1
    blocks = json.dumps(degraded[0].params["blocks"])
    assert "WARN" in blocks and "<@" not in blocks and "subteam" not in blocks
    w.target.set("health", 500, "DOWN")
    await w.run(T0 + minutes(30))
    assert len(w.posts("Regression")) == 1


async def test_flap_control_end_to_end(w: World) -> None:
    statuses = [200, 500, 200, 200, 500, 200, 500]
    for n, status in enumerate(statuses):
        w.target.set("flappy", status, "UP")
        await w.run(T0 + minutes(15 * n))
    texts = w.post_texts()
    assert len(texts) == 1 and "Regression" in texts[0] and "flappy" in texts[0]


async def test_nothing_during_silence_or_maintenance(tmp_path: Path) -> None:
    silence = {
        "items": ["health"],
        "start": T0 + minutes(10),
        "end": T0 + minutes(70),
        "reason": "planned DB failover",
    }
    maintenance = {"start": "23:00", "end": "01:00", "timezone": "Europe/Berlin"}
    async with world(tmp_path, alerts={"silences": [silence], "maintenance": [maintenance]}) as w:
        await w.run(T0)
        w.target.set("health", 500)
        await w.run(T0 + minutes(15))
        w.target.set("health", 200)
        await w.run(T0 + minutes(30))
        w.target.set("health", 500)
        await w.run(T0 + minutes(45))
        assert w.post_texts() == []
        await w.run(T0 + minutes(75))
        assert len(w.posts("Regression")) == 1, "still failing when the silence ends"

        # 23:00–01:00 in Berlin: 22:00–00:00 UTC in March.
        w.target.set("health", 200)
        await w.run(T0.replace(hour=21, minute=45))
        assert len(w.posts("Resolved")) == 1
        w.target.set("health", 500)
        await w.run(T0.replace(hour=22, minute=15))
        w.target.set("health", 200)
        await w.run(T0.replace(hour=22, minute=30))
        w.target.set("health", 500)
        await w.run(T0.replace(hour=23, minute=45))
        assert len(w.post_texts()) == 2
        await w.run(T0.replace(hour=23, minute=45) + minutes(30))
        assert len(w.posts("Regression")) == 2


async def test_stale_evidence_alerts(w: World) -> None:
    from golive.bot.core import usecases

    await usecases.confirm_item(
        w.checklist, w.store, "runbook", user=OPS, evidence_url="https://wiki.example/rb", now=lambda: T0
    )
    await w.run(T0 + minutes(15))
    assert w.post_texts() == []
    await w.run(T0 + minutes(75))  # the confirmation is older than the item's 1 h
    stale = w.posts("Regression")
    assert len(stale) == 1
    blocks = json.dumps(stale[0].params["blocks"], ensure_ascii=False)
    assert "Runbook erstellt" in blocks and "STALE" in blocks and f"<@{OPS}>" in blocks


async def test_signoff_invalidated_and_go_withdrawn(w: World) -> None:
    await w.reach_go(T0)
    assert len(w.posts(":rocket: GO for Shop")) == 1
    w.target.set("health", 500, "DOWN")
    await w.run(T0 + minutes(15))

    texts = w.post_texts()
    assert texts[0].startswith(":rocket: GO for Shop")
    assert len(w.posts("Regression")) == 1
    pings = w.posts("sign-off no longer holds")
    assert len(pings) == 1
    ping = json.dumps(pings[0].params["blocks"])
    assert "DevOps-Team" in ping and f"<@{DEVOPS}>" in ping and "health (PASS" in ping
    no_go = w.posts("NO-GO for Shop")
    assert len(no_go) == 1 and "DevOps-Team" in no_go[0].params["text"]
    assert texts.index(pings[0].params["text"]) < texts.index(no_go[0].params["text"])

    release = await w.store.release_id("Shop", "2.0.0")
    devops = [s for s in await w.store.signoffs(release) if s.role == "devops"]
    assert devops[0].invalidated_at == T0 + minutes(15) and "health" in (devops[0].invalidated_reason or "")
    assert await w.store.count_notifications(release, "withdrawn:") == 1
    assert any(e.action == "signoff.invalidate" and e.actor == "golive" for e in await w.store.audit_log())

    await w.restart()
    await w.run(T0 + minutes(30))
    assert len(w.post_texts()) == len(texts), "nothing repeated"

    # Fixed and signed again: a new GO, announced as such.
    w.target.set("health", 200, "UP")
    await w.run(T0 + minutes(45))
    from golive.bot.core import usecases

    await usecases.sign_off(w.checklist, w.store, "devops", user=DEVOPS, now=w.clock)
    assert await w.announce()
    assert len(w.posts(":rocket: GO for Shop")) == 2
    assert not await w.announce()


async def test_two_processes_post_each_alert_once(w: World) -> None:
    """Two notifiers (two processes' stores on one database) handling the same run: the
    notification claims let one post, the other stays silent."""
    from golive.bot.core import usecases

    await w.reach_go(T0)
    first = w.notifier
    await w.restart()
    second = w.notifier
    w.target.set("health", 500, "DOWN")
    w.at = T0 + minutes(15)
    run_id, state = await usecases.execute_run(w.checklist, w.store, now=w.clock)
    await asyncio.gather(first.after_run(run_id, state), second.after_run(run_id, state))
    assert len(w.posts("Regression")) == 1
    assert len(w.posts("sign-off no longer holds")) == 1
    assert len(w.posts("NO-GO for Shop")) == 1
