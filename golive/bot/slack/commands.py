"""``/golive schedule [pause|resume]`` and ``/golive diff <run> <run>``, after the ack.

Called from :func:`golive.bot.slack.app._dispatch`, which turns ``UserError`` into an
ephemeral reply. Showing is private (ephemeral); pausing and resuming is posted to the
channel, since it changes what everyone gets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import diff
from ..core.usecases import UserError
from ..render.alert_blocks import ScheduleView, notice, schedule_message

if TYPE_CHECKING:
    from .app import Bot


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
