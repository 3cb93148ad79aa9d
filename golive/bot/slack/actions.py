"""The buttons and the modal: sign off, revoke a sign-off, confirm a manual item with its
evidence. Each acknowledges at once and does the work after the ack; errors become
ephemeral replies (:mod:`golive.bot.slack.replies`). The cards live in the release
channel (the bot posted them there, so it is a member): answers go to the clicker
ephemerally in the card's channel."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.errors import SlackApiError

from ...checks.probe import probe_kind
from ..core import usecases
from ..core.cards import refresh_signoff_cards
from ..render import blocks
from ..render.mrkdwn import echo, escape, link_problem, mention
from .bot import Bot, announce_change
from .replies import errors_told
from .respond import Asked


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


def signoff(bot: Bot) -> Any:
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
        unknown = bot.t("error", reason=bot.t("unknown_role", role=echo(repr(role_id))))
        await bot.tell(Asked(user, channel), unknown)
        return
    async with errors_told(bot, Asked(user, channel), "sign-off") as told:
        record = await usecases.sign_off(
            bot.checklist, bot.store, role_id, user=user, authorizer=bot.approvers
        )
    if told.failed:
        return
    await _refresh_card(bot, channel, ts)
    done = bot.t("signoff_done", role=escape(role.title), user=mention(user), run=record.run_id)
    await bot.tell(Asked(user, channel), done)


def revoke(bot: Bot) -> Any:
    async def handle(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        user, channel, ts = _where(body)
        bot.background(_unsign(bot, _action_value(body), user, channel, ts))

    return handle


async def _unsign(bot: Bot, role_id: str, user: str, channel: str, ts: str | None) -> None:
    try:
        role = bot.checklist.role(role_id)
    except KeyError:
        unknown = bot.t("error", reason=bot.t("unknown_role", role=echo(repr(role_id))))
        await bot.tell(Asked(user, channel), unknown)
        return
    nothing_to_revoke = bot.t("signoff_nothing_to_revoke", role=escape(role.title))
    async with errors_told(
        bot, Asked(user, channel), "revoking a sign-off", user_error=lambda _: nothing_to_revoke
    ) as told:
        await usecases.revoke_sign_off(bot.checklist, bot.store, role_id, user=user, authorizer=bot.approvers)
    if told.failed:
        return
    await _refresh_card(bot, channel, ts)
    revoked = bot.t("signoff_revoked", role=escape(role.title), user=mention(user))
    await bot.tell(Asked(user, channel), revoked)


async def _refresh_card(bot: Bot, channel: str, ts: str | None) -> None:
    """Show every card as it now stands (the one clicked among them), and tell the
    channel if the verdict changed."""
    await refresh_signoff_cards(bot.checklist, bot.store, bot.surface, clicked=(channel, ts))
    await announce_change(bot, channel)


def open_confirm(bot: Bot) -> Any:
    async def handle(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        user, channel, ts = _where(body)
        item_id = _action_value(body)
        try:
            item = bot.checklist.item(item_id)
        except KeyError:
            unknown = bot.t("error", reason=bot.t("unknown_item", item=echo(repr(item_id))))
            bot.background(bot.tell(Asked(user, channel), unknown))
            return
        if probe_kind(item.probe_type) != "manual":
            not_manual = bot.t(
                "error", reason=bot.t("not_manual", item=escape(item_id), probe=item.probe_type)
            )
            bot.background(bot.tell(Asked(user, channel), not_manual))
            return
        if item.responsible and not await bot.approvers.is_approver(
            bot.checklist.role(item.responsible), user
        ):
            role = bot.checklist.role(item.responsible)
            bot.background(bot.tell(Asked(user, channel), bot.t("not_approver", role=escape(role.title))))
            return
        view = blocks.confirm_modal(bot.checklist, item, channel)
        metadata = json.loads(view["private_metadata"])
        metadata["ts"] = ts
        view["private_metadata"] = json.dumps(metadata)
        trigger_id = _field(body, "trigger_id")
        if not trigger_id:
            bot.background(bot.tell(Asked(user, channel), bot.t("error", reason=bot.t("no_trigger_id"))))
            return
        # trigger_id expires three seconds after the click: open the modal now, not later.
        try:
            await bot.client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as exc:
            # Slack's refusal (trigger_expired after a slow click, trigger_exchanged after a
            # double click): the person clicks again; nothing was recorded.
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            bot.background(bot.tell(Asked(user, channel), bot.t("modal_not_opened", error=error)))

    return handle


def submit_confirm(bot: Bot) -> Any:
    async def handle(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        url = _field(view, "state", "values", "evidence", "url", "value").strip()
        comment = _field(view, "state", "values", "comment", "text", "value") or None
        problem = link_problem(url)
        if problem is not None:
            # Shown under the field, as plain text: what is wrong, and what to send.
            refusal = bot.t("evidence_invalid", problem=bot.t(f"evidence_problem_{problem}"))
            await ack(response_action="errors", errors={"evidence": refusal})
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
    async with errors_told(bot, Asked(user, channel), "confirmation") as told:
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
    title = escape(bot.checklist.item(item_id).title)
    await bot.tell(Asked(user, channel), bot.t("confirm_done", title=title, user=mention(user)))
    await announce_change(bot, channel)
