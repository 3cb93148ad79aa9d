"""A local server that speaks the Slack Web API (and Socket Mode's WebSocket) for tests.

It answers the methods the bot uses with Slack's JSON shapes, checks the bot token,
records every call, and can be told to answer a method with 429 (``Retry-After``), 500,
or to hang. A post can also be applied (it shows in the channel's history) and then
answered with 500, not answered, or have its connection closed: what a client sees when
Slack took the post and the answer was lost. Like Slack, it refuses a message or view
that breaks Block Kit's rules or limits (``invalid_blocks``, ``msg_too_long``). Channels
keep their top-level messages for ``conversations.history`` (newest first,
``oldest``/``latest``, cursor pages; message ``metadata`` only with
``include_all_metadata``). The real ``slack_sdk`` client makes
real HTTP requests to it.

Answers to a request's ``response_url`` (``POST {url}/webhook/...``, JSON) are recorded as
calls of the method ``"response_url"``, with the user and channel the URL was issued for
(:meth:`FakeSlack.response_url`), good 5 times as Slack's are. The bot is in no DM
(``D…``) and in no channel of :attr:`FakeSlack.not_member`: posting there is refused with
``channel_not_found``, as Slack refuses it. ``auth.test`` names the workspace ``T0TEST``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

BOT_TOKEN = "xoxb-test-bot-token-0123456789"
#: Methods Slack refuses with ``channel_not_found`` where the bot is not a member.
MEMBERS_ONLY = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "chat.update", "files.completeUploadExternal"}
)
APP_TOKEN = "xapp-1-test-app-token-0123456789"
#: files.getUploadURLExternal: "alt_txt_too_large: Description for the image is longer
#: than the limit of 1000 character".
ALT_TEXT_LIMIT = 1000


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    #: Slack's error code when it refused the call (``ok: false``).
    error: str | None = None
    #: The message's ts, as answered to chat.postMessage.
    ts: str | None = None


@dataclass
class Posted:
    """A top-level message as it stands after every edit, and the replies in its thread."""

    ts: str
    text: str
    thread: list[str]


@dataclass
class FakeSlack:
    groups: dict[str, list[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    faults: dict[str, list[str]] = field(default_factory=dict)
    #: Faults for the next calls whose text contains a needle: (method, needle, faults).
    aimed: list[tuple[str, str, list[str]]] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    socket_envelopes: list[dict[str, Any]] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    #: Top-level messages per channel, oldest first, as ``conversations.history`` shows them.
    channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Socket Mode tickets: when set, a connection URL is good once and for this many
    #: seconds after apps.connections.open issued it, as Slack's are.
    ticket_lifetime: float | None = None
    #: Connection attempts to refuse next, whatever their ticket (Slack having trouble).
    refuse_sockets: int = 0
    #: (monotonic time, ticket, accepted) of every connection attempt.
    socket_attempts: list[tuple[float, str, bool]] = field(default_factory=list)
    #: Channels the bot is not a member of (besides every DM): posts there are refused.
    not_member: set[str] = field(default_factory=set)
    #: The workspace (and Enterprise Grid organisation) the bot token belongs to.
    team_id: str = "T0TEST"
    enterprise_id: str | None = None
    #: response_url path -> (user, channel, uses so far).
    _response_urls: dict[str, list[Any]] = field(default_factory=dict)
    _tickets: dict[str, float] = field(default_factory=dict)
    _sockets: set[web.WebSocketResponse] = field(default_factory=set)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _last_us: int = 0
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    #: Calls held by the ``"held"`` fault wait for this: a request a paused sender had
    #: already made, which reaches Slack when the sender wakes.
    released: asyncio.Event = field(default_factory=asyncio.Event)
    #: How many calls are held now.
    holding: int = 0
    url: str = ""

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/link", self._socket)
        app.router.add_post("/webhook", self._webhook)
        app.router.add_post("/webhook/{key}", self._webhook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._stopping.set()  # hung requests end now, not after the runner's grace period
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # -- what tests look at -----------------------------------------------------------

    def ok_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200 and c.error is None]

    def messages(self, channel: str) -> dict[str, Posted]:
        """The channel's top-level messages by ts, in their final state."""
        found: dict[str, Posted] = {}
        for call in self.ok_calls("chat.postMessage"):
            if call.params.get("channel") == channel and call.ts and not call.params.get("thread_ts"):
                found[call.ts] = Posted(call.ts, str(call.params.get("text")), [])
        for call in self.calls:
            if call.status != 200 or call.params.get("channel") != channel:
                continue
            if call.method == "chat.update" and call.params.get("ts") in found:
                found[call.params["ts"]].text = str(call.params.get("text"))
            thread = call.params.get("thread_ts")
            if call.method == "chat.postMessage" and thread in found:
                found[thread].thread.append(str(call.params.get("text")))
        return found

    def response_url(self, user: str, channel: str) -> str:
        """A fresh response_url for a request by ``user`` in ``channel``, as Slack issues one
        per slash command or click."""
        key = f"R{next(self._ts):08d}"
        self._response_urls[key] = [user, channel, 0]
        return f"{self.url}/webhook/{key}"

    def answers(self, user: str | None = None) -> list[Call]:
        """What the bot told people privately, in order: ephemeral posts and answers through
        a response_url that are not ``in_channel``."""
        return [
            c
            for c in self.calls
            if c.status == 200
            and c.error is None
            and (
                c.method == "chat.postEphemeral"
                or (c.method == "response_url" and c.params.get("response_type") != "in_channel")
            )
            and (user is None or c.params.get("user") == user)
        ]

    def all_text(self) -> str:
        return json.dumps([c.params for c in self.calls], ensure_ascii=False)

    def fail_next(self, method: str, *faults: str) -> None:
        """``"429"``, ``"500"``, ``"hang"``: answered in order, then normally again.
        ``"error:<code>"``: Slack's refusal, ``{"ok": false, "error": "<code>"}``.
        ``"applied-500"``, ``"applied-hang"``, ``"applied-reset"``: the call takes effect,
        then it is answered with 500, not answered, or its connection is closed.
        ``"held"``: the call waits until ``released`` is set, then takes effect and is
        answered normally."""
        self.faults.setdefault(method, []).extend(faults)

    def fail_next_with(self, method: str, needle: str, *faults: str) -> None:
        """Like :meth:`fail_next`, for the calls of ``method`` whose text contains
        ``needle`` only (one notification among a run's posts)."""
        self.aimed.append((method, needle, list(faults)))

    def _fault_for(self, method: str, params: Mapping[str, Any]) -> str | None:
        for aimed_method, needle, faults in self.aimed:
            if aimed_method == method and faults and needle in str(params.get("text") or ""):
                return faults.pop(0)
        queued = self.faults.get(method)
        return queued.pop(0) if queued else None

    def channel_posts(self, channel: str, *needles: str) -> list[dict[str, Any]]:
        """Top-level messages in ``channel`` whose text contains every needle: what
        people in the channel see, whatever the poster was answered."""
        return [m for m in self.channels.get(channel, []) if all(n in m["text"] for n in needles)]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.ok_calls(method)) < count:
            if asyncio.get_running_loop().time() > deadline:
                seen = [c.method for c in self.calls]
                raise AssertionError(f"{method} x{count} not seen within {timeout}s; calls: {seen}")
            await asyncio.sleep(0.02)
        return self.ok_calls(method)

    # -- the Web API ----------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        for key in ("blocks", "files", "view", "metadata"):
            if isinstance(params.get(key), str):
                with contextlib.suppress(json.JSONDecodeError):
                    params[key] = json.loads(params[key])
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or params.get(
            "token"
        )
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            self.calls.append(Call(method, params, 200))
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method in MEMBERS_ONLY and not self.is_member(
            str(params.get("channel") or params.get("channel_id") or "")
        ):
            self.calls.append(Call(method, params, 200, "channel_not_found"))
            return web.json_response({"ok": False, "error": "channel_not_found"})
        fault = self._fault_for(method, params)
        if fault == "held":
            self.holding += 1
            await self.released.wait()
            self.holding -= 1
            fault = None
        if fault is not None:
            if fault == "429":
                self.calls.append(Call(method, params, 429))
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
                )
            if fault == "500":
                self.calls.append(Call(method, params, 500))
                return web.Response(status=500, text="internal error")
            if fault.startswith("error:"):
                code = fault.removeprefix("error:")
                self.calls.append(Call(method, params, 200, code))
                return web.json_response({"ok": False, "error": code})
            if fault == "hang":
                self.calls.append(Call(method, params, 0))
                await self._hang()
                return web.Response(status=503, text="stopping")
            if fault.startswith("applied-"):
                self._answer(method, params)
                if fault == "applied-500":
                    self.calls.append(Call(method, params, 500))
                    return web.Response(status=500, text="internal error")
                self.calls.append(Call(method, params, 0))
                if fault == "applied-hang":
                    await self._hang()
                    return web.Response(status=503, text="stopping")
                # applied-reset: the connection closes with no answer written.
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=503, text="closed")
        refusal = refused(method, params)
        if refusal is not None:
            self.calls.append(Call(method, params, 200, refusal))
            return web.json_response({"ok": False, "error": refusal})
        answer = self._answer(method, params)
        posted = answer.get("ts") if method == "chat.postMessage" else None
        self.calls.append(Call(method, params, 200, ts=posted))
        return web.json_response(answer)

    def is_member(self, channel: str) -> bool:
        return not channel.startswith("D") and channel not in self.not_member

    async def _webhook(self, request: web.Request) -> web.Response:
        """A response_url: JSON in, ``ok`` out; 404 ``used_url`` after 5 uses, as Slack's."""
        key = request.match_info.get("key", "")
        user, channel, uses = self._response_urls.get(key, ["", "", 0])
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        params = {
            **(payload if isinstance(payload, dict) else {}),
            "user": user,
            "channel": channel,
            "url": key,
        }
        fault = self._fault_for("response_url", params)
        if fault == "500":
            self.calls.append(Call("response_url", params, 500))
            return web.Response(status=500, text="internal error")
        if not isinstance(payload, dict) or request.content_type != "application/json":
            self.calls.append(Call("response_url", params, 400, "invalid_payload"))
            return web.Response(status=400, text="invalid_payload")
        if key not in self._response_urls:
            self.calls.append(Call("response_url", params, 404, "expired_url"))
            return web.Response(status=404, text="expired_url")
        if uses >= 5:
            self.calls.append(Call("response_url", params, 404, "used_url"))
            return web.Response(status=404, text="used_url")
        self._response_urls[key][2] = uses + 1
        self.calls.append(Call("response_url", params, 200))
        if payload.get("response_type") == "in_channel":
            self._post({**payload, "channel": channel})
        return web.Response(text="ok")

    async def _hang(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), 3600)

    def _next_ts(self) -> str:
        """Slack's ts: the Unix time with microseconds, unique within a channel."""
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _post(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "text": params.get("text") or "",
            "user": "U0BOT",
            "ts": ts,
            "bot_id": "B0BOT",
            "app_id": "A0TEST",
            "team": "T0TEST",
            "blocks": params.get("blocks") or [],
        }
        metadata = params.get("metadata")
        if isinstance(metadata, dict) and metadata.get("event_type"):
            message["metadata"] = {
                "event_type": metadata["event_type"],
                "event_payload": metadata.get("event_payload") or {},
            }
        if not params.get("thread_ts"):  # replies are not in the channel's history
            self.channels.setdefault(str(params.get("channel")), []).append(message)
        return message

    def _history(self, params: Mapping[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        oldest = _micros(str(params.get("oldest") or "0"))
        latest = _micros(str(params["latest"])) if params.get("latest") else 10**20
        cursor = str(params.get("cursor") or "")
        if cursor:  # Slack's cursors are base64 of "next_ts:<ts without the dot>"
            latest = int(base64.b64decode(cursor).decode().removeprefix("next_ts:"))
            inclusive = True
        limit = min(int(params.get("limit") or 100), 999)

        def inside(ts: int) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        found = [m for m in reversed(self.channels.get(channel, [])) if inside(_micros(m["ts"]))]
        page, rest = found[:limit], found[limit:]
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        messages = [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in page]
        next_cursor = ""
        if rest:
            next_cursor = base64.b64encode(f"next_ts:{rest[0]['ts'].replace('.', '')}".encode()).decode()
        return {
            "ok": True,
            "messages": messages,
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _answer(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "golive",
                "team_id": self.team_id,
                "enterprise_id": self.enterprise_id,
                "user_id": "U0BOT",
                "bot_id": "B0BOT",
            }
        if method == "chat.postMessage":
            message = self._post(params)
            return {"ok": True, "channel": params.get("channel"), "ts": message["ts"], "message": message}
        if method == "conversations.history":
            return self._history(params)
        if method == "chat.update":
            ts = params.get("ts") or self._next_ts()
            return {
                "ok": True,
                "channel": params.get("channel"),
                "ts": ts,
                "message": {"text": params.get("text"), "ts": ts},
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "files.getUploadURLExternal":
            if len(str(params.get("alt_txt") or "")) > ALT_TEXT_LIMIT:
                return {"ok": False, "error": "alt_txt_too_large"}
            file_id = f"F{next(self._ts):08d}"
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = params.get("files") or []
            return {"ok": True, "files": [{"id": f.get("id"), "title": f.get("title")} for f in files]}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V0001", **(params.get("view") or {})}}
        if method == "usergroups.users.list":
            group = str(params.get("usergroup"))
            if group not in self.groups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self.groups[group]}
        if method == "users.info":
            return {"ok": True, "user": {"id": params.get("user"), "deleted": False, "is_bot": False}}
        if method == "apps.connections.open":
            ticket = f"ticket-{next(self._ts)}"
            self._tickets[ticket] = time.monotonic()
            return {"ok": True, "url": self.url.replace("http://", "ws://") + f"/link?ticket={ticket}"}
        if method == "chat.getPermalink":
            ts = str(params.get("message_ts", "")).replace(".", "")
            return {
                "ok": True,
                "channel": params.get("channel"),
                "permalink": f"https://test.slack.com/archives/{params.get('channel')}/p{ts}",
            }
        return {"ok": True}

    async def _upload(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            body = b""
            async for part in reader:
                body += await part.read()  # type: ignore[union-attr]
        self.uploads[request.match_info["file_id"]] = body
        self.calls.append(Call("upload", {"file_id": request.match_info["file_id"], "bytes": len(body)}, 200))
        return web.Response(text="OK - " + str(len(body)))

    # -- Socket Mode ----------------------------------------------------------------

    async def drop_sockets(self) -> None:
        """Close every Socket Mode connection, as Slack does now and then."""
        for socket in list(self._sockets):
            await socket.close()

    async def send_frame(self, frame: str) -> None:
        for socket in list(self._sockets):
            await socket.send_str(frame)

    def _ticket_ok(self, ticket: str) -> bool:
        if self.ticket_lifetime is None:
            return True
        issued = self._tickets.pop(ticket, None)  # good once
        return issued is not None and time.monotonic() - issued <= self.ticket_lifetime

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        fresh = self._ticket_ok(ticket)
        accepted = fresh and self.refuse_sockets <= 0
        if fresh and not accepted:
            self.refuse_sockets -= 1
        self.socket_attempts.append((time.monotonic(), ticket, accepted))
        if not accepted:
            return web.Response(status=401, text="invalid or expired ticket")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.add(socket)
        await socket.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0TEST"}}
        )
        for envelope in self.socket_envelopes:
            await socket.send_json(envelope)
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(message.data))
        finally:
            self._sockets.discard(socket)
        return socket


#: docs.slack.dev: 50 blocks a message, 100 a view, 40,000 characters of text, 3,000 a
#: section's text, 2,000 a context element's; msg_blocks_too_long at about 13.2k.
_MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update")


def refused(method: str, params: Mapping[str, Any]) -> str | None:
    """Slack's error code for a message or view it would not take, else None."""
    if method in _MESSAGE_METHODS:
        if len(str(params.get("text") or "")) > 40_000:
            return "msg_too_long"
        raw = params.get("blocks") or []
        if not isinstance(raw, list) or len(raw) > 50:
            return "invalid_blocks"
        if len(json.dumps(raw, ensure_ascii=False)) > 13_200:
            return "msg_blocks_too_long"
        return None if _valid_blocks(raw) else "invalid_blocks"
    if method == "views.open":
        view = params.get("view")
        try:
            View(**view).validate_json()  # type: ignore[arg-type]
        except (SlackObjectFormationError, TypeError):
            return "invalid_arguments"
        return None if len(view["blocks"]) <= 100 and _valid_blocks(view["blocks"]) else "invalid_arguments"  # type: ignore[index]
    return None


def _valid_blocks(raw: list[Any]) -> bool:
    for block in raw:
        try:
            parsed = Block.parse(block)
            if parsed is None:
                return False
            parsed.validate_json()
        except (SlackObjectFormationError, TypeError, KeyError):
            return False
        if block.get("type") == "section" and len(block.get("text", {}).get("text", "")) > 3000:
            return False
        if block.get("type") == "context" and any(
            len(e.get("text", "")) > 2000 for e in block.get("elements", [])
        ):
            return False
    return True


def _micros(ts: str) -> int:
    """A Slack ts (``"1700000000.000100"``) as whole microseconds, compared exactly."""
    whole, _, fraction = ts.partition(".")
    return int(whole) * 1_000_000 + int(fraction.ljust(6, "0")[:6] or 0)
