"""The bot in Slack, end to end: signed requests to the bot's real HTTP endpoint, the real
Bolt app and slack_sdk client, a local server speaking the Slack Web API."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from golive.bot.core import usecases

from .slack_support import CHANNEL, CUTOVER, DEVOPS, GROUP_MEMBER, OPS, STRANGER, Harness, harness


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as built:
        yield built


async def test_forged_and_stale_signatures_are_rejected(h: Harness) -> None:
    forged = await h.command("run", secret="not-the-secret")
    assert forged.status_code == 401
    stale = await h.command("run", timestamp=int(time.time()) - 6 * 60)
    assert stale.status_code == 401
    await asyncio.sleep(0.2)
    assert h.slack.ok_calls("chat.postMessage") == []
    assert await h.store.runs(await h.store.release_id("Shop", "2.0.0")) == []


async def test_help_and_unknown_subcommand(h: Harness) -> None:
    response = await h.command("help")
    assert response.status_code == 200
    await h.settle()
    ephemeral = h.slack.answers()
    assert len(ephemeral) == 1 and "/golive run" in ephemeral[0].params["text"]
    assert ephemeral[0].method == "response_url" and ephemeral[0].params["response_type"] == "ephemeral"
    await h.command("frobnicate")
    await h.settle()
    text = h.slack.answers()[-1].params["text"]
    assert "`frobnicate`" in text and "/golive status" in text


async def test_run_posts_one_message_edits_it_and_threads_summaries_and_charts(h: Harness) -> None:
    h.target.status = 503
    response = await h.command("run")
    assert response.status_code == 200
    await h.settle()
    posts = h.slack.ok_calls("chat.postMessage")
    top = [p for p in posts if not p.params.get("thread_ts")]
    assert len(top) == 1, "one message per run"
    run_ts = h.slack.calls[[c.method for c in h.slack.calls].index("chat.postMessage")]
    assert run_ts.params["channel"] == CHANNEL
    updates = h.slack.ok_calls("chat.update")
    assert updates and "NO-GO" in updates[-1].params["text"]
    thread = [p for p in posts if p.params.get("thread_ts")]
    assert thread and "P1: Staging" in thread[0].params["text"]
    summary = json.dumps(thread[0].params["blocks"])
    assert "[STATUS] = 503, limit == 200" in summary and "DevOps-Team" in summary
    completes = h.slack.ok_calls("files.completeUploadExternal")
    assert len(completes) == 1, "one chart for the one phase"
    assert all(c.params.get("thread_ts") for c in completes)
    assert len(h.slack.uploads) == 1
    for png in h.slack.uploads.values():
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        width = int.from_bytes(png[16:20], "big")
        height = int.from_bytes(png[20:24], "big")
        assert width > 400 and height > 200
    alt = [c.params for c in h.slack.calls if c.method == "files.getUploadURLExternal"]
    assert all(a.get("alt_txt") for a in alt)
    for call in h.slack.ok_calls("chat.postMessage") + updates:
        assert call.params.get("text"), "every message has a plain-text fallback"
        assert len(call.params["blocks"]) <= 50


async def test_a_phase_with_a_title_of_40_kb_still_gets_its_chart(tmp_path: Path) -> None:
    """The chart's title and alt text quote the phase's title: Slack refuses an image
    description over 1,000 characters (``alt_txt_too_large``), and the chart would be lost."""
    title = "<!channel> *P9* " + "Lastprofil " * 4000
    long_phase = {
        "id": "p9",
        "title": title,
        "sections": [
            {
                "id": "p9-load",
                "title": "Load",
                # Nothing listens on the discard port: an ERROR, observed and charted all the same.
                "items": [{"id": "load", "title": "Load", "probe": {"type": "http", "url": "http://127.0.0.1:9/"}}],
            }
        ],
    }
    async with harness(tmp_path, more_phases=[long_phase]) as h:
        await h.command("run")
        await h.settle()
        completes = h.slack.ok_calls("files.completeUploadExternal")
        assert len(completes) == 2, "one chart for each phase"
        asked = [c.params for c in h.slack.calls if c.method == "files.getUploadURLExternal"]
        assert all(0 < len(a["alt_txt"]) <= 1000 for a in asked)
        titles = [f["title"] for c in completes for f in c.params["files"]]
        long_one = next(t for t in titles if "P9" in t)
        assert len(long_one) <= 250 and long_one.startswith("<!channel> *P9* Lastprofil")


async def test_command_is_acknowledged_fast_while_a_run_is_in_flight(h: Harness) -> None:
    h.slack.fail_next("chat.update", "429")  # slows the run down by the Retry-After second
    await h.command("run")
    started = time.perf_counter()
    response = await h.command("status")
    assert response.status_code == 200
    assert time.perf_counter() - started < 1.0
    second = await h.command("run")
    assert second.status_code == 200
    await h.settle()
    assert len([p for p in h.slack.ok_calls("chat.postMessage") if not p.params.get("thread_ts")]) == 1
    assert any("already in flight" in c.params["text"] for c in h.slack.answers())


async def test_rate_limited_post_is_retried_once_without_duplicates(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    before = len([c for c in h.slack.calls if c.method == "chat.postMessage"])
    h.slack.fail_next("chat.postMessage", "429")
    await h.command("signoff")
    await h.settle()
    attempts = [c for c in h.slack.calls if c.method == "chat.postMessage"][before:]
    assert [c.status for c in attempts] == [429, 200]
    h.slack.fail_next("chat.postMessage", "500")
    await h.command("signoff")
    await h.settle()
    attempts = [c for c in h.slack.calls if c.method == "chat.postMessage"][before:]
    assert [c.status for c in attempts] == [429, 200, 500, 200]


async def test_signoff_before_any_run_says_there_is_nothing_to_sign(h: Harness) -> None:
    await h.command("signoff")
    await h.settle()
    assert h.slack.ok_calls("chat.postMessage") == [], "no card whose every button refuses"
    reply = h.slack.answers()[-1].params["text"]
    assert "Nothing to sign yet" in reply and "/golive run" in reply


async def test_a_phase_with_a_pending_item_is_not_called_fine(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    thread = [p for p in h.slack.ok_calls("chat.postMessage") if p.params.get("thread_ts")]
    summary = json.dumps(thread[0].params["blocks"])
    assert "PENDING" in summary
    assert "items fine" not in summary, summary
    assert "Runbook erstellt" in summary, "the item that blocks is named"


async def test_non_approver_click_is_refused_and_not_recorded(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    response = await h.action("golive_signoff", "devops", STRANGER)
    assert response.status_code == 200
    await h.settle()
    refusal = h.slack.answers()[-1]
    assert refusal.params["user"] == STRANGER and "Only approvers of DevOps-Team" in refusal.params["text"]
    release = await h.store.release_id("Shop", "2.0.0")
    assert await h.store.signoffs(release) == []


async def test_usergroup_member_may_sign_and_double_click_records_once(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    first, second = await asyncio.gather(
        h.action("golive_signoff", "devops", GROUP_MEMBER), h.action("golive_signoff", "devops", GROUP_MEMBER)
    )
    assert first.status_code == second.status_code == 200
    await h.settle()
    release = await h.store.release_id("Shop", "2.0.0")
    records = await h.store.signoffs(release)
    assert len(records) == 1 and records[0].user == GROUP_MEMBER and records[0].run_id is not None
    texts = [c.params["text"] for c in h.slack.answers()]
    assert sum("signed off by" in t for t in texts) == 1
    already = [t for t in texts if "already signed" in t]
    assert len(already) == 1 and "already signed by you at" in already[0], texts
    assert not any("did not work" in t for t in texts), "a double click is information, not an error"
    card = h.slack.ok_calls("chat.update")[-1]
    assert f"<@{GROUP_MEMBER}>" in json.dumps(card.params["blocks"])
    assert len(h.slack.ok_calls("usergroups.users.list")) == 1, "group membership is cached"


async def test_signer_can_revoke(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    await h.action("golive_signoff", "devops", DEVOPS)
    await h.settle()
    await h.action("golive_revoke", "devops", DEVOPS)
    await h.settle()
    release = await h.store.release_id("Shop", "2.0.0")
    records = await h.store.signoffs(release)
    assert len(records) == 1 and records[0].revoked_at is not None
    assert "revoked" in h.slack.answers()[-1].params["text"]


async def confirm_runbook(h: Harness, url: str = "https://wiki.example/runbook") -> None:
    await h.action("golive_confirm", "runbook", OPS)
    opened = await h.slack.wait_for("views.open")
    view = opened[-1].params["view"]
    await h.submit_view(
        view,
        {
            "evidence": {"url": {"type": "url_text_input", "value": url}},
            "comment": {"text": {"type": "plain_text_input", "value": None}},
        },
        OPS,
    )
    await h.settle()


async def test_manual_item_confirmed_through_the_modal(h: Harness) -> None:
    await h.action("golive_confirm", "runbook", STRANGER)
    await h.settle()
    assert h.slack.ok_calls("views.open") == []
    assert "Only approvers of Operations" in h.slack.answers()[-1].params["text"]
    await h.action("golive_confirm", "runbook", OPS)
    opened = await h.slack.wait_for("views.open")
    view = opened[-1].params["view"]
    bad = await h.submit_view(
        view, {"evidence": {"url": {"type": "url_text_input", "value": "ftp://x"}}}, OPS
    )
    assert bad.status_code == 200 and bad.json()["response_action"] == "errors"
    release = await h.store.release_id("Shop", "2.0.0")
    assert (await h.store.records(release)).confirmations == ()
    await confirm_runbook(h)
    records = await h.store.records(release)
    assert [(c.item_id, c.user, c.evidence_url) for c in records.confirmations] == [
        ("runbook", OPS, "https://wiki.example/runbook")
    ]
    entries = await h.store.audit_log()
    assert any(e.actor == OPS and "confirm" in e.action for e in entries)


async def test_go_is_announced_exactly_once_with_the_rollback_plan(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    await confirm_runbook(h)
    await h.action("golive_signoff", "devops", DEVOPS)
    await h.settle()
    assert not any("GO for" in c.params["text"] for c in h.slack.ok_calls("chat.postMessage"))
    await h.action("golive_signoff", "ops", OPS)
    await h.settle()
    await h.command("run")
    await h.settle()
    await h.command("signoff")
    await h.settle()
    go = [
        c
        for c in h.slack.ok_calls("chat.postMessage")
        if c.params["text"].startswith(":rocket: GO for") or "GO for Shop" in c.params["text"]
    ]
    assert len(go) == 1, [c.params["text"] for c in h.slack.ok_calls("chat.postMessage")]
    blocks = json.dumps(go[0].params["blocks"], ensure_ascii=False)
    for expected in (
        "https://wiki.example/rollback",
        "shop-41",
        "5xx above 5 %",
        "Incident lead",
        f"<@{OPS}>",
        "+49 30 9999",
        "Status page",
    ):
        assert expected in blocks


async def test_signoff_invalidated_by_a_later_regression(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    await h.action("golive_signoff", "devops", DEVOPS)
    await h.settle()
    h.target.status = 500
    await h.command("run")
    await h.settle()
    state = await usecases.current_state(h.bot.checklist, h.store)
    devops = next(s for s in state.verdict.signoffs if s.role == "devops")
    assert not devops.holds and "health (PASS → FAIL)" in devops.reason
    final = h.slack.ok_calls("chat.update")[-1]
    assert "signoff:devops" in json.dumps(final.params["blocks"])


async def test_note_and_waive_and_status(h: Harness) -> None:
    h.target.status = 500
    await h.command("run")
    await h.settle()
    await h.command("note Freigabe im CAB")
    await h.settle()
    await h.command("waive health 2 INC-7 known flaky upstream", user=STRANGER)
    await h.settle()
    assert "Only approvers of DevOps-Team" in h.slack.answers()[-1].params["text"]
    await h.command("waive health 2 INC-7 known flaky upstream", user=DEVOPS)
    await h.settle()
    await h.command("status p1")
    await h.settle()
    release = await h.store.release_id("Shop", "2.0.0")
    assert [n.text for n in await h.store.notes(release)] == ["Freigabe im CAB"]
    assert [w.reason for w in (await h.store.records(release)).waivers] == ["INC-7 known flaky upstream"]
    status = h.slack.answers()[-1]
    assert "WAIVED" in json.dumps(status.params["blocks"])


async def test_the_run_message_says_who_started_it_what_it_covers_and_what_is_carried_over(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path, more_phases=[CUTOVER]) as h:
        await h.command("run")
        await h.settle()
        full = h.slack.ok_calls("chat.update")[-1]
        shown = json.dumps(full.params["blocks"])
        assert f"started by <@{DEVOPS}>" in shown and "covers every phase" in shown
        assert "earlier runs" not in shown
        await h.command("run p2", user=OPS)
        await h.settle()
        tops = [p for p in h.slack.ok_calls("chat.postMessage") if not p.params.get("thread_ts")]
        assert len(tops) == 2
        final = [u for u in h.slack.ok_calls("chat.update") if u.params.get("ts") == tops[-1].ts][-1]
        shown = json.dumps(final.params["blocks"], ensure_ascii=False)
        assert f"started by <@{OPS}>" in shown
        assert "covers only P2: Cutover" in shown, "a phase run does not look like a full run"
        assert "1 item(s) from earlier runs: #1 (" in shown and " old)" in shown


def _card(h: Harness, ts: str) -> str:
    """The sign-off card at ``ts`` as it stands after its last edit."""
    edits = [c for c in h.slack.ok_calls("chat.update") if c.params.get("ts") == ts]
    posted = next(c for c in h.slack.ok_calls("chat.postMessage") if c.ts == ts)
    return json.dumps((edits[-1] if edits else posted).params["blocks"], ensure_ascii=False)


async def test_every_signoff_card_follows_a_revocation_and_an_invalidation(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    await h.command("signoff")
    await h.settle()
    await h.command("signoff")
    await h.settle()
    posted = h.slack.ok_calls("chat.postMessage")
    first, second = [c.ts or "" for c in posted if "Sign-off" in c.params["text"]]
    await h.action("golive_signoff", "devops", DEVOPS, message_ts=first)
    await h.settle()
    for ts in (first, second):
        assert f"<@{DEVOPS}>" in _card(h, ts) and "golive_revoke" in _card(h, ts), "both cards show it"
    await h.action("golive_revoke", "devops", DEVOPS, message_ts=second)
    await h.settle()
    for ts in (first, second):
        card = _card(h, ts)
        assert "golive_revoke" not in card and f"<@{DEVOPS}>" not in card, "no card keeps a revoked sign-off"
    await h.action("golive_signoff", "devops", DEVOPS, message_ts=second)
    await h.settle()
    h.target.status = 500
    await h.command("run")
    await h.settle()
    for ts in (first, second):
        card = _card(h, ts)
        assert "golive_revoke" not in card and "regressed since signed" in card, card


async def test_report_is_a_slack_summary_with_the_markdown_attached(h: Harness) -> None:
    await h.command("run")
    await h.settle()
    await confirm_runbook(h)
    await h.action("golive_signoff", "devops", DEVOPS)
    await h.settle()
    await h.command("note Freigabe im CAB")
    await h.settle()
    since = len(h.slack.answers())
    await h.command("report")
    await h.settle()
    said = [c.params for c in h.slack.answers()[since:]]
    assert said, "the report is answered"
    shown = json.dumps([p["blocks"] for p in said], ensure_ascii=False)
    assert "```" not in shown and all("```" not in p["text"] for p in said), "Slack, not Markdown in code"
    assert "<https://wiki.example/runbook|" in shown, "evidence is a link"
    assert f"<@{DEVOPS}>" in shown and f"<@{OPS}>" in shown, "people are mentioned"
    uploads = [c.params for c in h.slack.ok_calls("files.completeUploadExternal")]
    assert uploads and "Report" in json.dumps(uploads[-1])
    markdown = list(h.slack.uploads.values())[-1].decode()
    assert markdown.startswith("# Pre-go-live checklist - Shop v2.0.0") and "Freigabe im CAB" in markdown
