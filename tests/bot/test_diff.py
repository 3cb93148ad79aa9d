"""``/golive diff``: the comparison as a pure function, its rendering, and the command
against two real runs in Slack (which also shows a slash-command run raising an alert)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from golive.bot.core.diff import diff_message, diff_runs, parse_runs
from golive.checks.loader import loads
from golive.checks.results import ItemResult
from golive.checks.status import Status

from .slack_support import DEVOPS, harness

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHECKLIST = loads(
    """
release: {name: Shop, version: '2.0.0'}
phases:
  - id: p1
    title: P1
    sections:
      - id: s1
        title: S1
        items:
          - {id: health, title: Health, probe: {type: manual}}
          - {id: latency, title: P95, probe: {type: manual}}
          - {id: certs, title: Certs, probe: {type: manual}, allow_warn: true}
          - {id: errors, title: Errors, probe: {type: manual}}
          - {id: later, title: Later, probe: {type: manual}}
""",
    env={},
)


def result(item_id: str, status: Status, **observed: Any) -> ItemResult:
    return ItemResult(item_id, status, status, f"{item_id} {status}", 1.0, AT, observed)


def test_newly_failing_fixed_changed_and_values() -> None:
    before = {
        "health": result("health", Status.PASS, STATUS=200, BODY={"a": 1}),
        "latency": result("latency", Status.FAIL, P95_MS=612.0),
        "certs": result("certs", Status.PASS, DAYS=40),
        "errors": result("errors", Status.FAIL, RATE=float("nan")),
    }
    after = {
        "health": result("health", Status.FAIL, STATUS=503, BODY={"a": 2}),
        "latency": result("latency", Status.PASS, P95_MS=412.5),
        "certs": result("certs", Status.WARN, DAYS=12),
        "errors": result("errors", Status.ERROR, RATE=float("nan")),
        "later": result("later", Status.PASS),
    }
    diff = diff_runs(CHECKLIST, before, after)
    assert [c.item_id for c in diff.newly_failing] == ["health"]
    assert [c.item_id for c in diff.fixed] == ["latency"]
    assert [(c.item_id, c.before, c.after) for c in diff.changed] == [
        ("certs", Status.PASS, Status.WARN),
        ("errors", Status.FAIL, Status.ERROR),
    ], "WARN is fine for certs, so only changed; NaN to NaN is no value change"
    assert [(v.item_id, v.name, v.before, v.after) for v in diff.values] == [
        ("health", "STATUS", 200, 503),
        ("latency", "P95_MS", 612.0, 412.5),
        ("certs", "DAYS", 40, 12),
    ], "structured values (BODY) are left to the evidence"
    assert diff.not_compared == 1

    [message] = diff_message(CHECKLIST, 3, 7, diff, same_checklist=False)
    rendered = json.dumps(message.blocks, ensure_ascii=False)
    for expected in (
        "Run #3 → run #7",
        "Newly failing (1)",
        "*Health* (`health`) PASS → FAIL",
        "Fixed (1)",
        "Status changed (2)",
        "`latency` P95_MS: 612 → 412.5",
        "ran in only one",
        "different versions",
    ):
        assert expected in rendered, expected
    assert "1 newly failing, 1 fixed, 2 changed, 3 values" in message.text


def test_identical_runs() -> None:
    same = {"health": result("health", Status.PASS, STATUS=200)}
    diff = diff_runs(CHECKLIST, same, same)
    assert diff.empty
    assert "No differences" in json.dumps(diff_message(CHECKLIST, 1, 2, diff)[0].blocks)


def test_parse_runs() -> None:
    assert parse_runs("12 15") == (12, 15)
    assert parse_runs("#12  #15") == (12, 15)
    assert parse_runs("12") is None and parse_runs("a b") is None and parse_runs("1 2 3") is None


async def test_diff_command_and_an_alert_from_a_slash_run(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.command("run")
        await h.settle()
        h.target.status = 503
        await h.command("run")
        await h.settle()

        alerts = [c for c in h.slack.ok_calls("chat.postMessage") if "Regression" in c.params["text"]]
        assert len(alerts) == 1 and f"<@{DEVOPS}>" in json.dumps(alerts[0].params["blocks"])

        await h.command("diff 1 2")
        await h.settle()
        shown = h.slack.answers()[-1]
        blocks = json.dumps(shown.params["blocks"], ensure_ascii=False)
        assert "Newly failing (1)" in blocks and "`health`" in blocks and "STATUS: 200 → 503" in blocks

        await h.command("diff 1 99")
        await h.settle()
        assert "no run #99" in h.slack.answers()[-1].params["text"]
        await h.command("diff 1")
        await h.settle()
        assert "Usage: `/golive diff" in h.slack.answers()[-1].params["text"]
