"""Which request bodies the HTTP endpoint hands to Bolt.

Bolt parses a body and reads ids out of it (user, team, channel, enterprise, the first
action …) before it verifies the signature or finds a listener, and it trusts Slack's
shapes: a ``payload`` that is not JSON, JSON that is not an object, or a ``team`` that
is a list raises deep inside Bolt, and the request ends as a 500 with a traceback in
the log. Slack never sends such a body, so :func:`malformed` names what is wrong with it
and the endpoint answers 400 before Bolt sees it. Bodies of the right shape go on to
Bolt's signature check and listeners, which handle the rest.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_bolt.request.payload_utils import is_slash_command
from slack_bolt.response import BoltResponse

#: Slack writes these as an id string (Events API) or an object with an id (interactivity).
_ID_OR_OBJECT = ("user", "team", "channel", "enterprise")
_OBJECTS = ("event", "message", "previous_message", "item", "assistant_thread", "view", "container")
_LISTS_OF_OBJECTS = ("authorizations", "actions")
_STRINGS = ("type", "subtype", "command", "callback_id", "action_id", "block_id", "trigger_id")
#: Objects Bolt looks into for ids, as it looks into the body itself.
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread")


def malformed(text: str, content_type: str | None) -> str | None:
    """Why the body is not shaped like one Slack sends, or None."""
    try:
        body = parse_body(text, content_type)
    except ValueError:
        return "the payload is not JSON"
    if not isinstance(body, dict):
        return "the payload is not a JSON object"
    return _problem(body, "payload", depth=0)


def _problem(value: dict[str, Any], where: str, depth: int) -> str | None:
    for key in _ID_OR_OBJECT:
        if not isinstance(value.get(key), str | dict | None):
            return f"{where}.{key} is neither an id nor an object"
    for key in _OBJECTS:
        if not isinstance(value.get(key), dict | None):
            return f"{where}.{key} is not an object"
    for key in _LISTS_OF_OBJECTS:
        found = value.get(key)
        if found is not None and not (isinstance(found, list) and all(isinstance(x, dict) for x in found)):
            return f"{where}.{key} is not a list of objects"
        for index, entry in enumerate(found or []):
            problem = _strings(entry, f"{where}.{key}[{index}]")
            if problem is not None:
                return problem
    problem = _strings(value, where)
    if problem is None and value.get("type") == "block_actions" and not value.get("actions"):
        problem = f"{where} is a block_actions payload without actions"
    if problem is None and isinstance(value.get("view"), dict):
        problem = _view_problem(value["view"], f"{where}.view")
    if depth < 2:
        for key in _NESTED:
            if problem is None and isinstance(value.get(key), dict):
                problem = _problem(value[key], f"{where}.{key}", depth + 1)
    return problem


def _strings(value: dict[str, Any], where: str) -> str | None:
    for key in _STRINGS:
        if not isinstance(value.get(key), str | None):
            return f"{where}.{key} is not a string"
    return None


def _view_problem(view: dict[str, Any], where: str) -> str | None:
    problem = _strings(view, where)
    if problem is None and not isinstance(view.get("private_metadata"), str | None):
        problem = f"{where}.private_metadata is not a string"
    state = view.get("state")
    if problem is None and state is not None:
        values = state.get("values") if isinstance(state, dict) else None
        blocks = values.values() if isinstance(values, dict) else None
        if blocks is None or not all(
            isinstance(block, dict) and all(isinstance(element, dict) for element in block.values())
            for block in blocks
        ):
            problem = f"{where}.state.values is not an object of blocks of input elements"
    return problem


Middleware = Callable[..., Awaitable[BoltResponse | None]]


def refuse_commands(shutting_down: asyncio.Event, message: Callable[[], str]) -> Middleware:
    """A Bolt middleware answering slash commands with ``message`` once shutdown began."""

    async def guard(
        req: AsyncBoltRequest, resp: BoltResponse, next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        if shutting_down.is_set() and is_slash_command(req.body):
            body = json.dumps({"response_type": "ephemeral", "text": message()})
            return BoltResponse(status=200, body=body, headers={"content-type": "application/json"})
        await next_()
        return resp

    return guard
