"""The Bolt app: the ``/golive`` command, sign-off and confirmation buttons, the evidence modal.

Listeners are registered by :func:`register`, not at import. Each acknowledges first
(Slack allows 3 seconds) and does the work after; refusals and errors go to the user
ephemerally, and nothing is recorded for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from ...checks.model import Checklist
from ...checks.probe import probe_type
from ...checks.secrets import redact
from ...storage import Store
from ..core import transitions, usecases
from ..core.progress import watch_run
from ..core.publish import publish_run
from ..core.scheduler import ReleaseScheduler
from ..core.surface import Surface
from ..ha.database import LeaderElection
from ..render import blocks
from ..render.blocks import Message
from ..render.messages import text
from ..render.report import render_markdown
from ..slack.surface import SlackSurface
from .approvers import SlackApprovers
from .commands import diff_command, schedule_command
from .replies import errors_told
from .requests import malformed

log = logging.getLogger(__name__)


@dataclass
class Bot:
    checklist: Checklist
    store: Store
    client: AsyncWebClient
    channel: str
    approvers: SlackApprovers
    surface: Surface
    #: The schedule and, through it, the alerts and announcements after runs: built and
    #: started by ``serve``, which runs them with or without Slack. Its run lock is the
    #: bot's too: one run at a time, scheduled or asked for.
    scheduler: ReleaseScheduler
    #: Work after acks runs a few at a time, so a burst of commands cannot starve the acks
    #: (and the event loop) of the next requests.
    work_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    running: int | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    #: This process's part in the leader election (set by ``serve``), for ``/golive schedule``.
    election: LeaderElection | None = None

    @property
    def language(self) -> str:
        return self.checklist.release.language

    def t(self, key: str, **values: Any) -> str:
        return text(self.language, key, **values)

    def background(self, work: Any) -> None:
        """Run after the ack; keep a reference so the task is not collected mid-flight."""
        async def limited() -> None:
            async with self.work_slots:
                await work

        task = asyncio.get_running_loop().create_task(limited())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def tell(self, channel: str, user: str, message: str) -> None:
        # Replies quote errors (the database's among them), which may name a URL with a password.
        message = redact(message)
        await self.surface.ephemeral(channel, user, Message(message, [blocks.section(message)]))

#: The Bolt app, as the process that serves it names it.
BoltApp = AsyncApp


def events_endpoint(app: AsyncApp) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``POST /slack/events``: a body Slack sends, handed to Bolt (which checks its signature)."""

    async def events(request: web.Request) -> web.Response:
        try:
            refused = malformed(await request.text(), request.content_type)
        except UnicodeDecodeError:  # Slack sends UTF-8
            refused = "the body is not UTF-8"
        if refused is not None:  # not a body Slack sends; Bolt would fail on it with a 500
            return web.Response(status=400, text=refused)
        response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    return events


def build_app(bot: Bot, signing_secret: str | None) -> AsyncApp:
    app = AsyncApp(
        client=bot.client,
        signing_secret=signing_secret,
        # Socket Mode needs no signing secret; HTTP mode verifies every request.
        request_verification_enabled=signing_secret is not None,
    )
    register(app, bot)
    return app


def register(app: AsyncApp, bot: Bot) -> None:
    app.command("/golive")(_command(bot))
    app.action("golive_signoff")(_signoff(bot))
    app.action("golive_revoke")(_revoke(bot))
    app.action("golive_confirm")(_open_confirm(bot))
    app.view("golive_confirm_modal")(_submit_confirm(bot))


def _command(bot: Bot) -> Any:
    async def handle(ack: Any, command: dict[str, Any]) -> None:
        await ack()
        words = str(command.get("text") or "").strip()
        sub, _, rest = words.partition(" ")
        user = str(command.get("user_id", ""))
        channel = str(command.get("channel_id") or bot.channel)
        bot.background(_dispatch(bot, sub.lower(), rest.strip(), user, channel))

    return handle


async def _dispatch(bot: Bot, sub: str, rest: str, user: str, channel: str) -> None:
    async with errors_told(bot, channel, user, f"/golive {sub}"):
        if sub in ("", "help"):
            await bot.tell(channel, user, bot.t("help", release=bot.checklist.release.name))
        elif sub == "status":
            state = await usecases.current_state(bot.checklist, bot.store)
            phase = _phase(bot, rest)
            for message in blocks.status_message(state, phase):
                await bot.surface.ephemeral(channel, user, message)
        elif sub == "run":
            await _run(bot, _phase(bot, rest), user, channel)
        elif sub == "signoff":
            state = await usecases.current_state(bot.checklist, bot.store)
            await bot.surface.post(channel, blocks.signoff_card(state))
        elif sub == "confirm":
            state = await usecases.current_state(bot.checklist, bot.store)
            for message in blocks.confirm_cards(state):
                await bot.surface.post(channel, message)
        elif sub == "note":
            if not rest:
                await bot.tell(channel, user, bot.t("note_usage"))
                return
            await usecases.add_note(bot.checklist, bot.store, user=user, text=rest, authorizer=bot.approvers)
            await bot.tell(channel, user, bot.t("note_saved"))
        elif sub == "waive":
            await _waive(bot, rest, user, channel)
        elif sub == "schedule":
            await schedule_command(bot, rest, user, channel)
        elif sub == "diff":
            await diff_command(bot, rest, user, channel)
        elif sub == "report":
            state = await usecases.current_state(bot.checklist, bot.store)
            body = render_markdown(state)
            for part in blocks.split_text(body, 2900):
                await bot.tell(channel, user, f"```{part}```")
        else:
            await bot.tell(
                channel,
                user,
                bot.t("unknown_command", command=sub)
                + "\n\n"
                + bot.t("help", release=bot.checklist.release.name),
            )


def _phase(bot: Bot, rest: str) -> str | None:
    phase = rest.split(maxsplit=1)[0] if rest.split() else None
    if phase is not None and phase not in [p.id for p in bot.checklist.phases]:
        raise usecases.UserError(
            f"no phase {phase!r}; phases: {', '.join(p.id for p in bot.checklist.phases)}"
        )
    return phase


async def _run(bot: Bot, phase: str | None, user: str, channel: str) -> None:
    if bot.scheduler.run_lock.locked():
        await bot.tell(channel, user, bot.t("run_in_flight", run=bot.running or "?"))
        return
    trigger = f"slack:{user}"
    async with bot.scheduler.run_lock, watch_run(bot.checklist, bot.store, trigger, phase=phase) as watch:
        run_id, state = await publish_run(
            bot.checklist,
            bot.store,
            bot.surface,
            channel,
            phase=phase,
            trigger=trigger,
            on_start=watch.started,
            on_result=watch.result,
        )
        # Gauges, alerts and a GO withdrawal follow the newest observations.
        state = await usecases.release_state(state, bot.store)
        watch.completed(state)
        bot.running = run_id
        # Alerts, sign-off invalidation and a GO withdrawal: still under the run lock, so
        # the next run's decisions build on this one's stored alert state.
        await bot.scheduler.notifier.after_run(run_id, state)


async def _waive(bot: Bot, rest: str, user: str, channel: str) -> None:
    parts = rest.split(maxsplit=2)
    if len(parts) < 3:
        await bot.tell(channel, user, bot.t("waive_usage"))
        return
    item, days_text, reason = parts
    try:
        days = float(days_text)
    except ValueError:
        await bot.tell(channel, user, bot.t("waive_usage"))
        return
    waiver = await usecases.waive_item(
        bot.checklist, bot.store, item, days=days, reason=reason, user=user, authorizer=bot.approvers
    )
    await bot.surface.post(
        channel,
        Message(
            bot.t(
                "waived", item=item, until=f"{waiver.expires_at:%Y-%m-%d %H:%M} UTC", user=user, reason=reason
            )
        ),
    )
    await _announce_change(bot, channel)


def _field(value: Any, *path: str) -> str:
    """The text at ``path`` inside a payload; "" where the payload has another shape (a
    handler must not trust a payload's shape: a forged or future one may differ)."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return "" if value is None or isinstance(value, dict | list) else str(value)


def _where(body: dict[str, Any]) -> tuple[str, str, str | None]:
    user = _field(body, "user", "id")
    channel = _field(body, "channel", "id") or _field(body, "container", "channel_id")
    ts = _field(body, "message", "ts") or _field(body, "container", "message_ts")
    return user, channel, ts or None


def _action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions")
    return _field(actions[0] if isinstance(actions, list) and actions else None, "value")


def _signoff(bot: Bot) -> Any:
    async def handle(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        user, channel, ts = _where(body)
        role = _action_value(body)
        bot.background(_sign(bot, role, user, channel, ts))

    return handle


async def _sign(bot: Bot, role_id: str, user: str, channel: str, ts: str | None) -> None:
    try:
        role = bot.checklist.role(role_id)
    except KeyError:
        await bot.tell(channel, user, bot.t("error", reason=f"unknown role {role_id!r}"))
        return
    async with errors_told(bot, channel, user, "sign-off") as told:
        record = await usecases.sign_off(
            bot.checklist, bot.store, role_id, user=user, authorizer=bot.approvers
        )
    if told.failed:
        return
    await _refresh_card(bot, channel, ts)
    await bot.tell(channel, user, bot.t("signoff_done", role=role.title, user=user, run=record.run_id))


def _revoke(bot: Bot) -> Any:
    async def handle(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        user, channel, ts = _where(body)
        bot.background(_unsign(bot, _action_value(body), user, channel, ts))

    return handle


async def _unsign(bot: Bot, role_id: str, user: str, channel: str, ts: str | None) -> None:
    try:
        role = bot.checklist.role(role_id)
    except KeyError:
        await bot.tell(channel, user, bot.t("error", reason=f"unknown role {role_id!r}"))
        return
    nothing_to_revoke = bot.t("signoff_nothing_to_revoke", role=role.title)
    async with errors_told(
        bot, channel, user, "revoking a sign-off", user_error=lambda _: nothing_to_revoke
    ) as told:
        await usecases.revoke_sign_off(bot.checklist, bot.store, role_id, user=user, authorizer=bot.approvers)
    if told.failed:
        return
    await _refresh_card(bot, channel, ts)
    await bot.tell(channel, user, bot.t("signoff_revoked", role=role.title, user=user))


async def _refresh_card(bot: Bot, channel: str, ts: str | None) -> None:
    """Show the card as it now stands, and tell the channel if the verdict changed."""
    state = await usecases.current_state(bot.checklist, bot.store)
    if ts:
        await bot.surface.update(channel, ts, blocks.signoff_card(state))
    await _announce_change(bot, channel)


async def _announce_change(bot: Bot, channel: str) -> None:
    """GO, or its withdrawal, once across replicas (:mod:`golive.bot.core.transitions`)."""
    await transitions.announce_change(bot.checklist, bot.store, bot.surface, bot.channel or channel)


def _open_confirm(bot: Bot) -> Any:
    async def handle(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        user, channel, ts = _where(body)
        item_id = _action_value(body)
        try:
            item = bot.checklist.item(item_id)
        except KeyError:
            bot.background(bot.tell(channel, user, bot.t("error", reason=f"unknown item {item_id!r}")))
            return
        if probe_type(item.probe_type).kind != "manual":
            bot.background(bot.tell(channel, user, bot.t("error", reason=f"{item_id} is not a manual item")))
            return
        if item.responsible and not await bot.approvers.is_approver(
            bot.checklist.role(item.responsible), user
        ):
            role = bot.checklist.role(item.responsible)
            bot.background(bot.tell(channel, user, bot.t("not_approver", role=role.title)))
            return
        view = blocks.confirm_modal(bot.checklist, item, channel)
        metadata = json.loads(view["private_metadata"])
        metadata["ts"] = ts
        view["private_metadata"] = json.dumps(metadata)
        trigger_id = _field(body, "trigger_id")
        if not trigger_id:
            bot.background(bot.tell(channel, user, bot.t("error", reason="the click carried no trigger_id")))
            return
        # trigger_id expires three seconds after the click: open the modal now, not later.
        await bot.client.views_open(trigger_id=trigger_id, view=view)

    return handle


def _submit_confirm(bot: Bot) -> Any:
    async def handle(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        url = _field(view, "state", "values", "evidence", "url", "value").strip()
        comment = _field(view, "state", "values", "comment", "text", "value") or None
        if not url.startswith(("http://", "https://")) or len(url) > 2000:
            await ack(response_action="errors", errors={"evidence": bot.t("evidence_invalid")})
            return
        await ack()
        try:
            metadata = json.loads(_field(view, "private_metadata") or "{}")
        except ValueError:  # not the metadata this app wrote: confirm_item refuses item ""
            metadata = {}
        user = _field(body, "user", "id")
        bot.background(
            _confirm(
                bot,
                _field(metadata, "item"),
                user,
                _field(metadata, "channel") or bot.channel,
                _field(metadata, "ts") or None,
                url,
                comment,
            )
        )

    return handle


async def _confirm(
    bot: Bot, item_id: str, user: str, channel: str, ts: str | None, url: str, comment: Any
) -> None:
    async with errors_told(bot, channel, user, "confirmation") as told:
        await usecases.confirm_item(
            bot.checklist,
            bot.store,
            item_id,
            user=user,
            evidence_url=url,
            comment=str(comment) if comment else None,
            authorizer=bot.approvers,
        )
    if told.failed:
        return
    state = await usecases.current_state(bot.checklist, bot.store)
    if ts:
        cards = blocks.confirm_cards(state)
        await bot.surface.update(channel, ts, cards[0])
    await bot.tell(channel, user, bot.t("confirm_done", title=bot.checklist.item(item_id).title, user=user))
    await _announce_change(bot, channel)


def slack_surface(client: AsyncWebClient) -> SlackSurface:
    return SlackSurface(client)
