"""The ``/golive`` slash command: acknowledged at once, then dispatched after the ack.

Where it answers: everything said to the person who asked goes through the command's
response_url (ephemeral), which reaches them in any conversation, a DM or a private
channel the bot is not in included. Errors become such answers too
(:mod:`golive.bot.slack.replies`).

What everyone must see goes to the release channel, wherever the command was given: a
run (its message, thread and charts), the sign-off and confirmation cards, a waiver, a
schedule paused or resumed, and a note given outside the release channel. No command
acts silently: given elsewhere, the person is answered with a link to what was posted.
None is refused for being given elsewhere, since each of them is visible in the release
channel as it would be if given there.
"""

from __future__ import annotations

import logging
from typing import Any

from ..core import diff, usecases
from ..core.cards import post_signoff_card
from ..core.errors import UserError
from ..core.progress import watch_run
from ..core.publish import announce_if_go, publish_run_message
from ..render import blocks
from ..render.alert_blocks import ScheduleView, notice, schedule_message
from ..render.blocks import Message
from ..render.mrkdwn import clip, echo, escape, mention
from ..render.report import render_markdown
from .bot import Bot, announce_change
from .replies import errors_told
from .respond import Asked

log = logging.getLogger(__name__)


async def schedule_command(bot: Bot, rest: str, asked: Asked) -> None:
    user = asked.user
    action = rest.strip().lower()
    scheduler = bot.scheduler
    if action == "":
        view = None
        if bot.checklist.schedule is not None:
            election = bot.election
            leader = None if election is None else (election.leader() or "")
            here = election is not None and election.still_leading()
            view = ScheduleView(await scheduler.state(), await scheduler.next_runs(), leader, here)
        await bot.answer(asked, schedule_message(bot.checklist, view))
        return
    if action not in ("pause", "resume"):
        await bot.tell(asked, bot.t("schedule_usage"))
        return
    if bot.checklist.schedule is None:
        await bot.tell(asked, bot.t("schedule_none"))
        return
    if not await _approver_of_any_role(bot, user):
        await bot.tell(asked, bot.t("schedule_not_approver"))
        return
    paused = action == "pause"
    if not await scheduler.set_paused(paused, user):
        state = bot.t("schedule_state_paused" if paused else "schedule_state_running")
        await bot.tell(asked, bot.t("schedule_already", state=state))
        return
    key = "schedule_paused_now" if paused else "schedule_resumed_now"
    # Posted to the release channel: it changes what everyone gets.
    await post_for(bot, asked, notice(bot.t(key, user=mention(user))))


async def _approver_of_any_role(bot: Bot, user: str) -> bool:
    """Any role's approver may pause: it is about noise and timing, not one role's items."""
    for role in bot.checklist.signoffs:
        if await bot.approvers.is_approver(role, user):
            return True
    return False


async def diff_command(bot: Bot, rest: str, asked: Asked) -> None:
    runs = diff.parse_runs(rest)
    if runs is None:
        raise UserError(bot.t("diff_usage"))
    await bot.answer_all(asked, list(await diff.run_diff(bot.checklist, bot.store, *runs)))


async def report_command(bot: Bot, asked: Asked) -> None:
    """A summary in Slack's own markup for the one who asked; the whole report, as the
    release team ticks it, uploaded as a Markdown file to the release channel (a file
    cannot be private, and the bot may not be in the conversation it was asked in)."""
    state = await usecases.current_state(bot.checklist, bot.store)
    await bot.answer_all(asked, blocks.report_summary(state))
    release = bot.checklist.release
    title = bot.t("report_summary", release=f"{release.name} v{release.version}")
    await bot.client.files_upload_v2(
        channel=bot.channel or asked.channel,
        content=render_markdown(state).encode(),
        filename=f"golive-report-{release.name}-{release.version}-{state.at:%Y%m%d-%H%M}.md",
        title=title,
    )


def command(bot: Bot) -> Any:
    async def handle(ack: Any, command: dict[str, Any]) -> None:
        await ack()
        words = str(command.get("text") or "").strip()
        sub, _, rest = words.partition(" ")
        asked = Asked(
            user=str(command.get("user_id", "")),
            channel=str(command.get("channel_id") or bot.channel),
            response_url=str(command.get("response_url") or "") or None,
            channel_name=str(command.get("channel_name") or ""),
        )
        bot.background(_dispatch(bot, sub.lower(), rest.strip(), asked))

    return handle


async def post_for(bot: Bot, asked: Asked, message: Message) -> str:
    """Post ``message`` to the release channel; the person who asked elsewhere is told
    where, with a link. The message's ts."""
    release = bot.channel or asked.channel
    ts = await bot.surface.post(release, message)
    if not bot.in_release_channel(asked):
        await bot.tell(asked, bot.t("elsewhere_posted", link=await bot.link_to(release, ts)))
    return ts


async def _dispatch(bot: Bot, sub: str, rest: str, asked: Asked) -> None:
    user = asked.user
    async with errors_told(bot, asked, f"/golive {sub}"):
        if sub in ("", "help"):
            await bot.tell(asked, blocks.help_text(bot.checklist))
        elif sub == "status":
            state = await usecases.current_state(bot.checklist, bot.store)
            phase = _phase(bot, rest)
            answers = list(blocks.status_message(state, phase))
            held = await bot.store.unanswered_deployments(state.release_id)
            if held:
                answers.extend(blocks.waiting_deploys_message(bot.checklist.release.language, held))
            await bot.answer_all(asked, answers)
        elif sub == "run":
            await _run(bot, _phase(bot, rest), asked)
        elif sub == "signoff":
            # The card goes to the release channel: its buttons edit it there, and the
            # approvers of every role find it there.
            state = await usecases.current_state(bot.checklist, bot.store)
            if state.run is None:
                # A card whose every button refuses helps nobody: say what comes first.
                await bot.tell(asked, bot.t("no_run_to_sign"))
                return
            release = bot.channel or asked.channel
            card = await post_signoff_card(bot.store, bot.surface, release, state)
            if card is not None and not bot.in_release_channel(asked):
                await bot.tell(asked, bot.t("elsewhere_posted", link=await bot.link_to(release, card)))
        elif sub == "confirm":
            state = await usecases.current_state(bot.checklist, bot.store)
            first: str | None = None
            release = bot.channel or asked.channel
            for message in blocks.confirm_cards(state):
                ts = await bot.surface.post(release, message)
                first = first or ts
            if first is not None and not bot.in_release_channel(asked):
                await bot.tell(asked, bot.t("elsewhere_posted", link=await bot.link_to(release, first)))
        elif sub == "note":
            if not rest:
                await bot.tell(asked, bot.t("note_usage"))
                return
            await usecases.add_note(bot.checklist, bot.store, user=user, text=rest, authorizer=bot.approvers)
            if bot.in_release_channel(asked):
                await bot.tell(asked, bot.t("note_saved"))
            else:
                # A note goes into the report the team signs off on: given elsewhere, the
                # release channel learns of it.
                await post_for(
                    bot, asked, Message(bot.t("note_announced", user=mention(user), text=escape(rest)))
                )
        elif sub == "waive":
            await _waive(bot, rest, asked)
        elif sub == "schedule":
            await schedule_command(bot, rest, asked)
        elif sub == "diff":
            await diff_command(bot, rest, asked)
        elif sub == "report":
            await report_command(bot, asked)
        else:
            await bot.tell(
                asked,
                bot.t("unknown_command", command=echo(sub))
                + "\n\n"
                + blocks.help_text(bot.checklist),
            )


def _phase(bot: Bot, rest: str) -> str | None:
    phase = rest.split(maxsplit=1)[0] if rest.split() else None
    if phase is not None and phase not in [p.id for p in bot.checklist.phases]:
        phases = ", ".join(p.id for p in bot.checklist.phases)
        raise UserError(key="no_phase", phase=clip(phase, 40), phases=phases)
    return phase


async def _run(bot: Bot, phase: str | None, asked: Asked) -> None:
    if bot.scheduler.run_lock.locked():
        await bot.tell(asked, bot.t("run_in_flight", run=bot.running or "?"))
        return
    trigger = f"slack:{asked.user}"
    # A run is the team's: its message, thread and charts go to the release channel
    # (where GO/NO-GO and alerts go too), wherever it was asked for.
    release = bot.channel or asked.channel

    async def posted(run_id: int, ts: str) -> None:
        if not bot.in_release_channel(asked):
            await bot.tell(asked, bot.t("elsewhere_run", link=await bot.link_to(release, ts)))

    async with watch_run(bot.checklist, bot.store, trigger, phase=phase) as watch:
        async with bot.scheduler.run_lock:
            published = await publish_run_message(
                bot.checklist,
                bot.store,
                bot.surface,
                release,
                phase=phase,
                trigger=trigger,
                on_start=watch.started,
                on_result=watch.result,
                on_posted=posted,
            )
            # Gauges, alerts and a GO withdrawal follow the newest observations.
            state = await usecases.release_state(published.state, bot.store)
            watch.completed(state)
            bot.running = published.run_id
            await announce_if_go(bot.checklist, bot.store, bot.surface, release, state)
            # Alerts, sign-off invalidation and a GO withdrawal: still under the run lock, so
            # the next run's decisions build on this one's stored alert state.
            await bot.scheduler.notifier.after_run(published.run_id, state)
        # Summaries and charts in the thread: the next run need not wait for them.
        await published.post_thread()


async def _waive(bot: Bot, rest: str, asked: Asked) -> None:
    user = asked.user
    parts = rest.split(maxsplit=2)
    if len(parts) < 3:
        await bot.tell(asked, bot.t("waive_usage"))
        return
    item, days_text, reason = parts
    try:
        days = float(days_text)
    except ValueError:
        await bot.tell(asked, bot.t("waive_usage"))
        return
    waiver = await usecases.waive_item(
        bot.checklist, bot.store, item, days=days, reason=reason, user=user, authorizer=bot.approvers
    )
    waived = bot.t(
        "waived",
        item=escape(item),
        until=f"{waiver.expires_at:%Y-%m-%d %H:%M} UTC",
        user=mention(user),
        reason=escape(waiver.reason),
    )
    # A waiver changes the verdict: the release channel sees it, wherever it was given.
    said = blocks.reply(waived, bot.language)
    await post_for(bot, asked, said[0])
    for message in said[1:]:
        await bot.surface.post(bot.channel or asked.channel, message)
    await announce_change(bot, asked.channel)
