"""Block Kit for what the bot posts on its own: regression alerts, sign-off pings, the
rollback call, and the schedule's state. Pure functions, like :mod:`golive.bot.render.blocks`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ...checks.durations import format_duration
from ...checks.model import Checklist, Item, RollbackTrigger, SignoffRole
from ...checks.phrases import Phrase
from ...checks.results import ItemResult
from ...checks.timing import zone
from ...storage import ScheduleState
from ..state import Post, PostKind
from .blocks import (
    Message,
    fallback_text,
    header,
    mentions,
    mrkdwn_escape,
    owner_mentions,
    pages,
    paginate,
    result_message,
    rollback_blocks,
    section,
    split_text,
)
from .messages import say, text
from .mrkdwn import clip, echo, escape, link, mention

#: Blockers named in a GO withdrawal's reason.
REASONS_SHOWN = 5
_MESSAGE_LIMIT = 300


def _release(checklist: Checklist) -> str:
    return f"{checklist.release.name} v{checklist.release.version}"


def when(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def alert_line(
    checklist: Checklist,
    item: Item,
    result: ItemResult,
    post: Post,
    run_id: int,
    previous_run: int | None,
) -> str:
    """One item's alert: what it is now (the value seen against its limit, in the
    result's message), whose it is, the evidence, and where to look."""
    language = checklist.release.language
    values = {
        "title": mrkdwn_escape(item.title),
        "item": escape(item.id),
        "status": result.status,
        "run": run_id,
        "message": clip(result_message(language, result), _MESSAGE_LIMIT),
        "since": when(post.since),
    }
    line = text(language, f"alert_{post.kind}", **values)
    extras = []
    if post.kind in ("failing", "reminder") and item.responsible:
        # Only the failing tier calls people; a degraded item names its owner quietly.
        extras.append(text(language, "owner", owner=owner_mentions(checklist, item.responsible)))
    elif item.responsible:
        extras.append(text(language, "owner", owner=escape(checklist.role(item.responsible).title)))
    if result.evidence is not None and result.evidence.link and post.kind != "resolved":
        extras.append(link(result.evidence.link, text(language, "evidence")))
    if post.kind == "failing" and previous_run is not None:
        extras.append(text(language, "alert_compare", before=previous_run, run=run_id))
    return line + ("\n    " + " · ".join(extras) if extras else "")


def alert_messages(checklist: Checklist, kind: PostKind, lines: Sequence[str]) -> list[Message]:
    if not lines:
        return []
    language = checklist.release.language
    title = text(language, f"alert_header_{kind}", release=_release(checklist))
    blocks = [section(part) for part in split_text("\n".join(lines))]
    # The fallback is what a notification shows: the first item, readable without markup.
    first = lines[0].split("\n", 1)[0].replace("*", "")
    more = f" (+{len(lines) - 1})" if len(lines) > 1 else ""
    return paginate(title, blocks, clip(f"{escape(title)}: {first}{more}", 600), language)


def signoff_invalidated(checklist: Checklist, role: SignoffRole, reason: Phrase) -> list[Message]:
    language = checklist.release.language
    message = text(
        language,
        "signoff_invalidated",
        role=escape(role.title),
        reason=say(language, reason, escape=mrkdwn_escape),
        mentions=mentions(role) or escape(role.title),
    )
    blocks = [section(part) for part in split_text(message)]
    return pages(blocks, message.replace("*", ""), checklist.release.language)


def held_for(delta: timedelta) -> str:
    seconds = max(1, round(delta.total_seconds()))
    return format_duration(timedelta(seconds=seconds if seconds < 120 else seconds - seconds % 60))


def rollback_call(checklist: Checklist, trigger: RollbackTrigger, held: timedelta) -> list[Message]:
    """The call to roll back, with the plan: one message, or more when the plan is long."""
    headline = text(
        checklist.release.language,
        "rollback_call",
        release=escape(_release(checklist)),
        trigger=mrkdwn_escape(trigger.name),
        description=mrkdwn_escape(trigger.description),
        condition=mrkdwn_escape(clip(trigger.condition or "", 500)),
        held=held_for(held),
    )
    blocks = [*(section(part) for part in split_text(headline)), *rollback_blocks(checklist)]
    return pages(blocks, headline.replace("*", ""), checklist.release.language)


@dataclass(frozen=True)
class ScheduleView:
    """What ``/golive schedule`` shows."""

    state: ScheduleState
    upcoming: Sequence[datetime]
    #: With several replicas: the one that runs the schedule ("" for none), and whether
    #: it is the replica answering. None: not known (no election in this process).
    leader: str | None = None
    leader_here: bool = False


def schedule_message(checklist: Checklist, view: ScheduleView | None) -> Message:
    language = checklist.release.language
    title = text(language, "schedule_header", release=_release(checklist))
    schedule = checklist.schedule
    if schedule is None or view is None:
        return Message(text(language, "schedule_none"), [section(text(language, "schedule_none"))])
    if schedule.interval is not None:
        how = text(language, "schedule_every", interval=format_duration(schedule.interval))
    else:
        how = text(language, "schedule_cron", cron=escape(schedule.cron), timezone=escape(schedule.zone_name))
    if schedule.window is not None:
        window = schedule.window
        how += " " + text(
            language,
            "schedule_window",
            start=escape(window.start),
            end=escape(window.end),
            timezone=escape(window.timezone),
        )
    state = view.state
    if state.paused:
        status = text(
            language,
            "schedule_paused",
            user=mention(state.changed_by or "?"),
            date=when(state.changed_at) if state.changed_at else "?",
        )
    else:
        status = text(language, "schedule_running")
    lines = [f"{how}.", status]
    if view.leader is not None:
        if view.leader:
            here = text(language, "schedule_leader_here") if view.leader_here else ""
            lines.append(text(language, "schedule_leader", holder=echo(view.leader, 200), here=here))
        else:
            lines.append(text(language, "schedule_no_leader"))
    if state.last_run_id is not None:
        lines.append(text(language, "schedule_last", run=state.last_run_id))
    if view.upcoming:
        # In the schedule's own zone: that is how the release team thinks of its window.
        tz = zone(schedule.zone_name)
        runs = "\n".join(f"• {at.astimezone(tz):%a %Y-%m-%d %H:%M %Z}" for at in view.upcoming)
        lines.append(text(language, "schedule_next", runs=runs))
    else:
        lines.append(text(language, "schedule_no_next"))
    blocks = [header(title), *(section(part) for part in split_text("\n".join(lines)))]
    return Message(fallback_text(f"{escape(title)}: {status}"), blocks)


def notice(message: str) -> Message:
    """A one-line post to the channel (pause, resume); ``message`` is mrkdwn, its user
    text escaped."""
    return Message(fallback_text(message.replace("*", "")), [section(part) for part in split_text(message)])
