"""What people type reaches Slack as text, never as markup, and every answer is one Slack
accepts: end to end through the Bolt app, against the local Slack Web API (which refuses
what Slack refuses)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from golive.bot.core import usecases
from golive.bot.core.errors import UserError
from golive.storage import Store

from .every_message import checklist_with, foreign_markup
from .fake_slack import Call
from .slack_support import CHANNEL, DEVOPS, OPS, Harness, harness

BIG = "<!channel>" + "x" * 40_000


@pytest.fixture(params=["en", "de"])
async def h(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    async with harness(tmp_path, language=request.param) as built:
        yield built


def mrkdwn_of(call: Call) -> list[str]:
    texts = [str(call.params.get("text") or "")]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                texts.append(str(node.get("text")))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(call.params.get("blocks"))
    walk(call.params.get("view"))
    return texts


def own(markup: str) -> bool:
    """The bot's own: its approvers' mentions, the checklist's and the evidence links."""
    if markup in (f"<@{DEVOPS}>", f"<@{OPS}>", "<!subteam^S0DEVOPS>"):
        return True
    own_links = ("<https://wiki.example/", "<https://test.slack.com/", "<http://127.0.0.1:")
    return markup.startswith(own_links) and " " not in markup


def assert_all_accepted_and_markup_free(h: Harness) -> None:
    refused = [(c.method, c.error) for c in h.slack.calls if c.error is not None]
    assert refused == [], refused
    for call in h.slack.calls:
        for text in mrkdwn_of(call):
            markup = [m for m in foreign_markup(text) if not own(m)]
            assert markup == [], f"{call.method}: {text[:300]!r}"


def ephemerals(h: Harness) -> list[str]:
    return [json.dumps(c.params, ensure_ascii=False) for c in h.slack.answers()]


async def test_a_waiver_reason_and_a_note_arrive_escaped(h: Harness) -> None:
    h.target.status = 500
    await h.command("run")
    await h.settle()
    await h.command("waive health 2 <!channel> INC-7 & co")
    await h.command("note CAB ok <@U0SOMEONE> <!here>")
    await h.settle()
    await h.command("report")
    await h.command("status p1")
    await h.settle()
    everything = h.slack.all_text()
    assert "&lt;!channel&gt; INC-7 &amp; co" in everything
    assert "&lt;@U0SOMEONE&gt; &lt;!here&gt;" in everything
    assert_all_accepted_and_markup_free(h)
    release = await h.store.release_id("Shop", "2.0.0")
    assert [w.reason for w in (await h.store.records(release)).waivers] == ["<!channel> INC-7 & co"]


async def test_help_shows_its_placeholders_as_text(h: Harness) -> None:
    await h.command("help")
    await h.command("waive")
    await h.command("note")
    await h.command("diff")
    await h.settle()
    assert len(h.slack.answers()) == 4
    assert_all_accepted_and_markup_free(h)


async def test_forty_kilobytes_of_input_get_an_answer_slack_accepts(h: Harness) -> None:
    for command in (BIG, f"status {BIG}", f"run {BIG}", f"diff {BIG}", f"schedule {BIG}"):
        await h.command(command)
        await h.settle()
    assert len(h.slack.answers()) == 5
    assert_all_accepted_and_markup_free(h)


async def test_long_input_is_refused_politely_and_nothing_is_recorded(h: Harness) -> None:
    h.target.status = 500
    await h.command("run")
    await h.settle()
    await h.command(f"waive health 2 {BIG}")
    await h.command(f"note {BIG}")
    await h.settle()
    answers = ephemerals(h)[-2:]
    assert all("40" in answer for answer in answers), answers  # the observed length, named
    release = await h.store.release_id("Shop", "2.0.0")
    assert (await h.store.records(release)).waivers == ()
    assert await h.store.notes(release) == []
    assert_all_accepted_and_markup_free(h)


async def test_an_evidence_link_must_be_one_valid_url(h: Harness) -> None:
    await h.action("golive_confirm", "runbook", OPS)
    opened = await h.slack.wait_for("views.open")
    view = opened[-1].params["view"]
    for bad in ("https://x.example/a b<!channel>|click>", "https://x.example/a|b", "ftp://x", "https://"):
        answer = await h.submit_view(
            view, {"evidence": {"url": {"type": "url_text_input", "value": bad}}}, OPS
        )
        assert answer.status_code == 200
        errors = answer.json()
        assert errors["response_action"] == "errors" and errors["errors"]["evidence"], bad
    release = await h.store.release_id("Shop", "2.0.0")
    assert (await h.store.records(release)).confirmations == ()
    good = "https://wiki.example/runbook?page=1&v=2"
    await h.submit_view(view, {"evidence": {"url": {"type": "url_text_input", "value": good}}}, OPS)
    await h.settle()
    await h.command("confirm")
    await h.settle()
    card = h.slack.ok_calls("chat.postMessage")[-1]
    assert card.params["channel"] == CHANNEL
    assert "<https://wiki.example/runbook?page=1&amp;v=2|" in json.dumps(card.params["blocks"])
    assert_all_accepted_and_markup_free(h)


async def test_the_command_line_refuses_the_same_evidence_links(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    try:
        checklist = checklist_with("")
        for bad, problem in (
            ("https://x.example/a b<!channel>|click>", "it contains spaces"),
            ("https://x.example/a|b", "it contains a vertical bar (|)"),
            ("file:///etc/passwd", "it does not start with http:// or https://"),
        ):
            with pytest.raises(UserError, match=re.escape(problem)):
                await usecases.confirm_item(checklist, store, "runbook", user=OPS, evidence_url=bad)
        release = await store.release_id("Shop", "2.0.0")
        assert (await store.records(release)).confirmations == ()
    finally:
        await store.close()
