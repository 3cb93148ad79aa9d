"""The ``/golive`` slash command: acknowledged at once, then dispatched after the ack.

Errors become ephemeral replies (:mod:`golive.bot.slack.replies`). ``/golive schedule``
shows privately (ephemeral); pausing and resuming is posted to the channel, since it
changes what everyone gets.
"""

from __future__ import annotations

import logging
from typing import Any

from ..core import diff, usecases
from ..core.errors import UserError
from ..core.progress import watch_run
from ..core.publish import announce_if_go, publish_run_message
from ..render import blocks
from ..render.alert_blocks import ScheduleView, notice, schedule_message
from ..render.blocks import Message
from ..render.report import render_markdown
from .bot import Bot, announce_change
from .replies import errors_told

log = logging.getLogger(__name__)


async def schedule_command(bot: Bot, rest: str, user: str, channel: str) -> None:
    action = rest.strip().lower()
    scheduler = bot.scheduler
    if action == "":
        view = None
        if bot.checklist.schedule is not None:
            election = bot.election
            leader = None if election is None else (election.leader() or "")
            here = election is not None and election.still_leading()
            view = ScheduleView(await scheduler.state(), await scheduler.next_runs(), leader, here)
        await bot.surface.ephemeral(channel, user, schedule_message(bot.checklist, view))
        return
    if action not in ("pause", "resume"):
        await bot.tell(channel, user, bot.t("schedule_usage"))
        return
    if bot.checklist.schedule is None:
        await bot.tell(channel, user, bot.t("schedule_none"))
        return
    if not await _approver_of_any_role(bot, user):
        await bot.tell(channel, user, bot.t("schedule_not_approver"))
        return
    paused = action == "pause"
    if not await scheduler.set_paused(paused, user):
        state = bot.t("schedule_state_paused" if paused else "schedule_state_running")
        await bot.tell(channel, user, bot.t("schedule_already", state=state))
        return
    key = "schedule_paused_now" if paused else "schedule_resumed_now"
    await bot.surface.post(bot.channel or channel, notice(bot.t(key, user=user)))


async def _approver_of_any_role(bot: Bot, user: str) -> bool:
    """Any role's approver may pause: it is about noise and timing, not one role's items."""
    for role in bot.checklist.signoffs:
        if await bot.approvers.is_approver(role, user):
            return True
    return False


async def diff_command(bot: Bot, rest: str, user: str, channel: str) -> None:
    runs = diff.parse_runs(rest)
    if runs is None:
        raise UserError(bot.t("diff_usage"))
    for message in await diff.run_diff(bot.checklist, bot.store, *runs):
        await bot.surface.ephemeral(channel, user, message)


def command(bot: Bot) -> Any:
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
            held = await bot.store.unanswered_deployments(state.release_id)
            if held:
                waiting = blocks.waiting_deploys_message(bot.checklist.release.language, held)
                await bot.surface.ephemeral(channel, user, waiting)
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
        raise UserError(
            f"no phase {phase!r}; phases: {', '.join(p.id for p in bot.checklist.phases)}"
        )
    return phase


async def _run(bot: Bot, phase: str | None, user: str, channel: str) -> None:
    if bot.scheduler.run_lock.locked():
        await bot.tell(channel, user, bot.t("run_in_flight", run=bot.running or "?"))
        return
    trigger = f"slack:{user}"
    async with watch_run(bot.checklist, bot.store, trigger, phase=phase) as watch:
        async with bot.scheduler.run_lock:
            published = await publish_run_message(
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
            state = await usecases.release_state(published.state, bot.store)
            watch.completed(state)
            bot.running = published.run_id
            await announce_if_go(bot.checklist, bot.store, bot.surface, channel, state)
            # Alerts, sign-off invalidation and a GO withdrawal: still under the run lock, so
            # the next run's decisions build on this one's stored alert state.
            await bot.scheduler.notifier.after_run(published.run_id, state)
        # Summaries and charts in the thread: the next run need not wait for them.
        await published.post_thread()


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
    await announce_change(bot, channel)
