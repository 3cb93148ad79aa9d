"""Every message and view the bot can produce is one Slack accepts: valid Block Kit as
slack_sdk's models check it, and within the limits they do not check."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from golive.bot.render import alert_blocks, blocks

from .every_message import HOSTILE, LANGUAGES, Rendered, every_message, state_with

#: docs.slack.dev: 50 blocks a message, 100 a modal; 40,000 characters of text; 3,000 a
#: section's text, 2,000 a context element's; msg_blocks_too_long at about 13.2k.
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
TEXT_LIMIT = 40_000
SECTION_TEXT = 3000
CONTEXT_ELEMENT = 2000
BLOCKS_CHARACTERS = 13_000


def check_blocks(where: str, raw: list[dict[str, Any]]) -> None:
    for block in raw:
        parsed = Block.parse(block)
        assert parsed is not None, f"{where}: unknown block {block}"
        parsed.validate_json()
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_TEXT, where
        if block["type"] == "context":
            for element in block["elements"]:
                assert len(element.get("text", "")) <= CONTEXT_ELEMENT, where


def check(rendered: Rendered) -> None:
    where = rendered.what
    if rendered.message is not None:
        message = rendered.message
        assert message.text.strip(), f"{where}: no fallback text"
        assert len(message.text) <= TEXT_LIMIT, f"{where}: text of {len(message.text)} characters"
        assert len(message.blocks) <= MESSAGE_BLOCKS, where
        assert len(json.dumps(message.blocks, ensure_ascii=False)) <= BLOCKS_CHARACTERS, where
        check_blocks(where, message.blocks)
    if rendered.view is not None:
        view = View(**rendered.view)
        view.validate_json()
        assert len(rendered.view["blocks"]) <= VIEW_BLOCKS, where
        check_blocks(where, rendered.view["blocks"])


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("value", ["", " <!channel> & ü", HOSTILE[-1]], ids=["plain", "markup", "40KB"])
def test_every_message_and_view_is_valid_block_kit_within_limits(value: str, language: str) -> None:
    seen = set()
    for rendered in every_message(value, language):
        check(rendered)
        seen.add(rendered.what)
    assert len(seen) > 25


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_big_checklist_stays_within_limits(language: str) -> None:
    for rendered in every_message("y" * 300, language, items=120):
        check(rendered)


def test_a_long_reply_is_split_not_cut() -> None:
    answer = "\n".join(f"line {n}: " + "z" * 200 for n in range(300))
    messages = blocks.reply(answer)
    assert len(messages) > 1
    shown = "\n".join(b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section")
    for n in range(300):
        assert f"line {n}: " in shown
    for message in messages:
        check(Rendered("reply", message))


def test_split_text_never_cuts_an_entity() -> None:
    escaped = "&lt;" * 2000
    parts = blocks.split_text(escaped, 3000)
    assert "".join(parts) == escaped
    assert all(part.endswith("&lt;") for part in parts)


def test_a_long_rollback_plan_continues_in_further_messages_and_loses_nothing() -> None:
    steps = [f"step {n}: " + "s" * 400 for n in range(150)]
    state = state_with("")
    plan = state.checklist.rollback.model_copy(update={"procedure": steps})
    state = replace(state, checklist=state.checklist.model_copy(update={"rollback": plan}))
    for messages in (
        blocks.go_announcement(state),
        alert_blocks.rollback_call(state.checklist, plan.triggers[0], timedelta(minutes=5)),
    ):
        assert len(messages) > 1
        shown = "".join(b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section")
        for n in range(150):
            assert f"step {n}: " in shown, f"step {n} was cut"
        for message in messages:
            check(Rendered("rollback plan", message))
        assert "(continued 2/" in json.dumps(messages[1].blocks)


def test_a_run_message_too_long_for_one_message_says_where_the_rest_is() -> None:
    state = state_with("r" * 40_000)
    message = blocks.run_message(state, 1, 2, 2, True, 1.0)
    check(Rendered("run", message))
    shown = json.dumps(message.blocks)
    assert "this run's thread and `/golive status` show the rest" in shown
    assert "NO-GO" in shown, "the verdict stays in the message"


def test_split_text_never_cuts_a_mention_or_a_link() -> None:
    line = " ".join(["<@U0DEVOPS> <https://x.example/a|evidence>"] * 200)
    parts = blocks.split_text(line, 3000)
    assert "".join(parts) == line
    for part in parts:
        assert part.count("<") == part.count(">"), part[-60:]
