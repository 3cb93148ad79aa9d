"""Malformed Slack requests, correctly signed, sent to the bot's real HTTP endpoint.

Whatever arrives — form bodies with fields missing or doubled, interactive payloads of
the wrong shape, unknown action ids, huge texts, JSON where a form is expected — the bot
answers 2xx (telling the user ephemerally what is wrong) or 4xx, never 5xx; nothing is
recorded in the store; no error is logged (an error log here is an unhandled exception);
and a normal command still works afterwards.

The requests come from a user who approves nothing, so that a mutation that happens to
leave a valid request still records nothing; ``run`` and ``note`` (open to everyone in
the channel) are left out of the command texts for the same reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.bot.slack_support import CHANNEL, OPS, SIGNING_SECRET, STRANGER, Harness, harness

from .fuzz import FUZZ, examples
from .mutate import JSON_VALUES, mutate_tree
from .support import Captured, captured_logs, row_counts

SLACK_FUZZ = settings(
    FUZZ,
    max_examples=examples(120),
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
    print_blob=False,
)

FORM = {
    "token": "legacy-unused",
    "team_id": "T0TEST",
    "team_domain": "test",
    "channel_id": CHANNEL,
    "channel_name": "release",
    "user_id": STRANGER,
    "user_name": "stranger",
    "command": "/golive",
    "text": "status",
    "api_app_id": "A0TEST",
    "response_url": "http://127.0.0.1:9/webhook",
    "trigger_id": "1337.42.abcd",
}
COMMAND_TEXTS = [
    "",
    "help",
    "status",
    "status nope",
    "status p1 extra words",
    "signoff",
    "confirm",
    "report",
    "waive",
    "waive health",
    "waive health 2 INC-7 known flaky upstream",
    "waive nope 2 INC-7 known flaky upstream",
    "waive health nan INC-7 known flaky upstream",
    "waive health 1e999 INC-7 known flaky upstream",
    "waive health -3 INC-7 known flaky upstream",
    "WAIVE health 0.0001 x",
    "frobnicate",
    "\u202estatus",
    "status " + "p" * 50_000,
    "waive health 2 " + "x" * 200_000,
]
ACTION = {
    "type": "block_actions",
    "user": {"id": STRANGER, "username": "stranger", "team_id": "T0TEST"},
    "api_app_id": "A0TEST",
    "team": {"id": "T0TEST", "domain": "test"},
    "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": CHANNEL},
    "channel": {"id": CHANNEL, "name": "release"},
    "trigger_id": "1337.42.efgh",
    "response_url": "http://127.0.0.1:9/webhook",
    "message": {"ts": "1700000000.000001", "text": ""},
    "actions": [
        {
            "action_id": "golive_signoff",
            "block_id": "b",
            "value": "devops",
            "type": "button",
            "action_ts": "1",
        }
    ],
}
VIEW = {
    "type": "view_submission",
    "team": {"id": "T0TEST", "domain": "test"},
    "user": {"id": STRANGER, "username": "stranger", "team_id": "T0TEST"},
    "api_app_id": "A0TEST",
    "trigger_id": "1337.42.ijkl",
    "view": {
        "id": "V0001",
        "type": "modal",
        "callback_id": "golive_confirm_modal",
        "private_metadata": json.dumps({"item": "runbook", "channel": CHANNEL, "ts": "1700000000.000001"}),
        "state": {"values": {"evidence": {"url": {"type": "url_text_input", "value": "https://wiki/x"}}}},
    },
}
ACTION_IDS = ["golive_signoff", "golive_revoke", "golive_confirm", "golive_unknown", "", "x" * 300]
ACTION_VALUES = ["devops", "ops", "runbook", "health", "nope", "", "\u0000", "x" * 10_000]
FORM_TEXT = st.sampled_from(COMMAND_TEXTS) | st.text(max_size=200)


@st.composite
def command_bodies(draw: st.DrawFn) -> bytes:
    pairs = [(k, v) for k, v in FORM.items()]
    pairs = [(k, draw(FORM_TEXT, label="text")) if k == "text" else (k, v) for k, v in pairs]
    for _ in range(draw(st.integers(0, 3), label="form edits")):
        index = draw(st.integers(0, len(pairs) - 1), label="field")
        kind = draw(st.sampled_from(["drop", "double", "replace", "add"]), label="form edit")
        if kind == "drop":
            del pairs[index]
        elif kind == "double":
            pairs.append((pairs[index][0], draw(st.text(max_size=20), label="second value")))
        elif kind == "replace":
            pairs[index] = (
                pairs[index][0],
                draw(st.text(max_size=40) | st.just("x" * 100_000), label="value"),
            )
        else:
            pairs.append((draw(st.text(max_size=10), label="new field"), draw(st.text(max_size=10))))
        if not pairs:
            break
    text = dict(pairs).get("text", "")
    user = dict(pairs).get("user_id", "")
    # Open to anyone: a valid run or note would rightly be recorded.
    assume(text.strip().split(" ")[0].lower() not in ("run", "note") or user == "")
    body = urlencode(pairs).encode()
    if draw(st.booleans(), label="raw damage"):
        at = draw(st.integers(0, len(body)), label="at")
        body = (
            body[:at]
            + draw(st.sampled_from([b"%", b"%zz", b"\xff\xfe", b"&&", b"=", b"+", b"%00"]))
            + body[at:]
        )
    return body


def _payload_body(payload: Any, draw: st.DrawFn) -> bytes:
    encoded = json.dumps(payload) if not isinstance(payload, bytes) else payload.decode("latin-1")
    shape = draw(st.sampled_from(["payload", "payload twice", "no payload key", "not json"]), label="shape")
    if shape == "payload twice":
        return f"payload={quote(encoded)}&payload={quote(json.dumps(ACTION))}".encode()
    if shape == "no payload key":
        return f"something={quote(encoded)}".encode()
    if shape == "not json":
        return f"payload={quote(encoded[: len(encoded) // 2])}".encode()
    return f"payload={quote(encoded)}".encode()


#: What the handlers read: damaged more often than the rest.
READ_BY_HANDLERS = [
    ("user",),
    ("user", "id"),
    ("channel",),
    ("container",),
    ("message",),
    ("trigger_id",),
    ("actions",),
    ("actions", 0),
    ("actions", 0, "value"),
    ("view",),
    ("view", "private_metadata"),
    ("view", "state"),
    ("view", "state", "values"),
    ("view", "state", "values", "evidence"),
    ("view", "state", "values", "evidence", "url"),
]


@st.composite
def interactive_bodies(draw: st.DrawFn) -> bytes:
    base = json.loads(json.dumps(draw(st.sampled_from([ACTION, VIEW]), label="base")))
    if base["type"] == "block_actions":
        base["actions"][0]["action_id"] = draw(st.sampled_from(ACTION_IDS), label="action id")
        base["actions"][0]["value"] = draw(st.sampled_from(ACTION_VALUES), label="action value")
    if draw(st.booleans(), label="targeted"):
        path = draw(st.sampled_from(READ_BY_HANDLERS), label="read by handlers")
        parent: Any = base
        for part in path[:-1]:
            parent = _child(parent, part)
        if _child(parent, path[-1]) is not _MISSING:
            parent[path[-1]] = draw(JSON_VALUES | st.just(None), label="replacement")
    payload = mutate_tree(base, draw(st.data(), label="mutations"), rounds=3)
    if draw(st.integers(0, 9), label="odd type") == 0:
        payload = draw(
            JSON_VALUES
            | st.sampled_from(["shortcut", "message_action", "block_suggestion"]).map(
                lambda t: {"type": t, "callback_id": "x", "user": {"id": STRANGER}}
            )
        )
    return _payload_body(payload, draw)


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    event = {
        "type": "event_callback",
        "team_id": "T0TEST",
        "api_app_id": "A0TEST",
        "event": {"type": "app_mention", "user": STRANGER, "text": "<@U0BOT> run", "channel": CHANNEL},
    }
    base = draw(st.sampled_from([event, {"type": "url_verification", "challenge": "abc"}, ACTION]))
    document = mutate_tree(base, draw(st.data(), label="mutations"))
    return json.dumps(document).encode()


_MISSING = object()


def _child(container: Any, key: str | int) -> Any:
    """``container[key]``, or _MISSING where the payload has another shape by now."""
    if isinstance(container, dict) and key in container:
        return container[key]
    if isinstance(container, list) and isinstance(key, int) and key < len(container):
        return container[key]
    return _MISSING


BODIES = st.one_of(
    command_bodies().map(lambda b: (b, "application/x-www-form-urlencoded")),
    interactive_bodies().map(lambda b: (b, "application/x-www-form-urlencoded")),
    json_bodies().map(lambda b: (b, "application/json")),
    st.binary(max_size=300).map(lambda b: (b, "application/x-www-form-urlencoded")),
    st.tuples(
        st.binary(max_size=50), st.sampled_from(["text/plain", "multipart/form-data", "", "application/json"])
    ),
)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as built:
        await built.command("run")  # a run to sign off on: an approver could sign now
        await built.settle()
        yield built


@pytest.fixture
def logs() -> Iterator[Captured]:
    with captured_logs() as handler:
        yield handler


def signature(body: bytes, timestamp: str) -> str:
    """Slack's v0 signature over the raw bytes (slack_sdk's helper wants UTF-8 text)."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


async def send(h: Harness, body: bytes, content_type: str) -> int:
    stamp = str(int(time.time()))
    headers = {
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature(body, stamp),
        "content-type": content_type,
    }
    response = await h.http.post(f"{h.url}/slack/events", content=body, headers=headers)
    return response.status_code


async def assert_refused_cleanly(h: Harness, logs: Captured, body: bytes, content_type: str) -> None:
    before = await row_counts(h.store)
    logs.records.clear()
    status = await send(h, body, content_type)
    await h.settle()
    assert status < 500, (status, body[:300])
    assert not logs.errors(), logs.text()[-3000:]
    assert await row_counts(h.store) == before, body[:300]
    # Still serving: a normal command is acknowledged and answered.
    calls = len(h.slack.answers())
    assert (await h.command("help", user=STRANGER)).status_code == 200
    await h.settle()
    answered = h.slack.answers()
    assert len(answered) == calls + 1 and "/golive run" in answered[-1].params["text"]


@SLACK_FUZZ
@given(request=BODIES)
async def test_malformed_signed_requests_are_refused_cleanly(
    h: Harness, logs: Captured, request: tuple[bytes, str]
) -> None:
    await assert_refused_cleanly(h, logs, *request)


def _payload(base: dict[str, Any], path: tuple[Any, ...], value: Any) -> bytes:
    payload = json.loads(json.dumps(base))
    parent = payload
    for part in path[:-1]:
        parent = parent[part]
    if value is _DROP:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return f"payload={quote(json.dumps(payload))}".encode()


_DROP = object()
CONFIRM_AS_APPROVER = {
    **ACTION,
    "user": {"id": OPS},
    "actions": [{"action_id": "golive_confirm", "value": "runbook", "type": "button"}],
}


KNOWN_MALFORMED = [
    _payload(ACTION, ("user",), STRANGER),
    _payload(ACTION, ("actions",), []),
    _payload(ACTION, ("actions", 0), "golive_signoff"),
    _payload(ACTION, ("container",), ["C0RELEASE"]),
    _payload(CONFIRM_AS_APPROVER, ("trigger_id",), _DROP),
    _payload(VIEW, ("user",), "U0STRANGER"),
    _payload(VIEW, ("view", "private_metadata"), "not json"),
    _payload(VIEW, ("view", "private_metadata"), "[1, 2]"),
    _payload(VIEW, ("view", "state", "values", "evidence"), []),
    _payload(VIEW, ("view", "state", "values", "evidence", "url", "value"), 5),
    b"payload=null",
    b"payload=%7B",
    b"payload=%5B%5D",
    b"command=%2Fgolive&text=note+" + b"x" * (2 * 1024 * 1024),  # over the 1 MiB body limit: 413
    b"\xfb\x93",
]


async def test_known_malformed_payloads(h: Harness, logs: Captured) -> None:
    """Shapes the fuzzing found (or might miss): each refused cleanly, nothing recorded."""
    for body in KNOWN_MALFORMED:
        await assert_refused_cleanly(h, logs, body, "application/x-www-form-urlencoded")
