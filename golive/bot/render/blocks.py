"""Block Kit rendering: pure functions from state to Slack messages.

Slack's limits shape everything here: at most 50 blocks a message, 3000 characters a
section, 2000 a context element, 150 a header, 75 a button label. Long content continues
in further messages (the caller posts each), never silently cut; the one message a run
edits in place and the sign-off card say so when something had to move to the thread or
to ``/golive status``. Every message carries a plain-text fallback.

Text from people, servers, the checklist or the database is put into mrkdwn escaped,
through :mod:`golive.bot.render.mrkdwn`, which alone builds mentions and links.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...checks.durations import short_age
from ...checks.model import Checklist, Item, Phase, SignoffRole
from ...checks.probe import probe_kind
from ...checks.results import ItemResult
from ...checks.status import Status
from ...checks.verdict import NOT_RUN, Blocker, SignoffState, item_ok
from ...storage import PendingDeployment
from ..state import ChecklistChange, State
from .messages import say, text
from .mrkdwn import clip, escape, link, mention, usergroup
from .plaintext import plain_text
from .statuses import LOOKS

#: The name the other renderers and the use cases know the escaping by.
mrkdwn_escape = escape

SECTION_LIMIT = 3000
CONTEXT_LIMIT = 2000
HEADER_LIMIT = 150
BUTTON_LIMIT = 75
BLOCKS_LIMIT = 50
#: Slack rejects messages whose blocks add up to roughly 13k characters (msg_blocks_too_long).
MESSAGE_CHARACTERS = 11000
#: A message's plain-text fallback is what a notification shows: Slack truncates beyond
#: 40,000 characters and advises 4,000; the blocks carry the whole content.
FALLBACK_LIMIT = 3000
MAX_BLOCKERS_SHOWN = 15
#: A title beside a button (a card's line) is shown up to this long, shortened visibly:
#: such a line is one section, and the title is in full in the status and the report.
TITLE_SHOWN = 300

EMOJI = {status: look.emoji for status, look in LOOKS.items()}
PROBLEMS = (Status.FAIL, Status.ERROR, Status.STALE, Status.WARN, Status.SKIPPED)


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def _lang(checklist: Checklist) -> str:
    return checklist.release.language


def _release(checklist: Checklist) -> str:
    return f"{checklist.release.name} v{checklist.release.version}"


def header(value: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": clip(value, HEADER_LIMIT), "emoji": True},
    }


def section(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": value}, **extra}


def context(*elements: str) -> dict[str, Any]:
    """A line of asides (at most 10); each is an aside, shortened visibly (…) past 2000
    characters: what it summarises is shown in full elsewhere."""
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _clip_mrkdwn(e, CONTEXT_LIMIT)} for e in elements[:10]],
    }


def _clip_mrkdwn(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    return value[: _cut_at(value, limit - 1)] + "…"


def _cut_at(value: str, limit: int) -> int:
    """Where to cut ``value`` at most ``limit`` characters in: not inside an entity
    (``&lt;``), nor inside a mention or link the bot built (``<@U…>``, ``<url|label>``)."""
    amp = value.rfind("&", max(0, limit - 5), limit)
    cut = amp if amp > 0 and ";" not in value[amp:limit] else limit
    opening = value.rfind("<", 0, cut)
    if opening > 0 and value.rfind(">", 0, cut) < opening:
        return opening
    return cut


def button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(label, BUTTON_LIMIT), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def split_text(value: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split at line ends where possible, inside a line only when it alone is too long."""
    parts: list[str] = []
    current = ""
    for whole_line in value.split("\n"):
        line = whole_line
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            cut = _cut_at(line, limit)
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def fallback_text(value: str) -> str:
    return _clip_mrkdwn(value, FALLBACK_LIMIT)


def pages(blocks: list[dict[str, Any]], fallback: str, language: str) -> list[Message]:
    """Blocks in as many messages as Slack's limits need, without a header: each message
    after the first says which part it is."""
    grouped = _group(blocks, BLOCKS_LIMIT - 1)
    if len(grouped) == 1:
        return [Message(fallback_text(fallback), grouped[0])]
    messages = []
    for number, page in enumerate(grouped, 1):
        more = text(language, "continued", part=number, parts=len(grouped))
        messages.append(Message(fallback_text(f"{fallback} {more}"), [*page, context(more)]))
    return messages


def _group(blocks: list[dict[str, Any]], per_page: int) -> list[list[dict[str, Any]]]:
    grouped: list[list[dict[str, Any]]] = [[]]
    size = 0
    for block in blocks:
        block_size = len(json.dumps(block, ensure_ascii=False))
        if len(grouped[-1]) >= per_page or (grouped[-1] and size + block_size > MESSAGE_CHARACTERS):
            grouped.append([])
            size = 0
        grouped[-1].append(block)
        size += block_size
    return grouped


def fits(blocks: list[dict[str, Any]]) -> bool:
    return len(_group(blocks, BLOCKS_LIMIT)) == 1


def help_text(checklist: Checklist) -> str:
    return text(_lang(checklist), "help", release=escape(checklist.release.name))


def reply(message: str, language: str = "en") -> list[Message]:
    """An answer in mrkdwn (its user text already escaped), as many messages as it needs."""
    return pages([section(part) for part in split_text(message)], message, language)


def paginate(title: str, blocks: list[dict[str, Any]], fallback: str, language: str) -> list[Message]:
    """Spread blocks over as many messages as Slack's limits need, each marked as a part.
    ``title`` is plain text (a header); ``fallback`` is mrkdwn, its user text escaped."""
    grouped = _group(blocks, BLOCKS_LIMIT - 2)
    if len(grouped) == 1:
        return [Message(fallback_text(fallback), [header(title), *grouped[0]])]
    messages = []
    for number, page in enumerate(grouped, 1):
        more = text(language, "continued", part=number, parts=len(grouped))
        messages.append(Message(fallback_text(f"{fallback} {more}"), [header(f"{title} {more}"), *page]))
    return messages


def counts_line(results: Iterable[ItemResult | None], language: str) -> str:
    counts: dict[Status, int] = {}
    missing = 0
    for result in results:
        if result is None:
            missing += 1
        else:
            counts[result.status] = counts.get(result.status, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: -kv[0].severity)
    parts = [f"{EMOJI[status]} {number} {status}" for status, number in ordered]
    if missing:
        parts.append(f"{missing} {text(language, 'not_run')}")
    return " · ".join(parts) or text(language, "not_run")


def _items(phase: Phase) -> list[Item]:
    return [item for section_ in phase.sections for item in section_.items]


def item_line(checklist: Checklist, item: Item, result: ItemResult | None) -> str:
    language = _lang(checklist)
    status = result.status if result else None
    line = text(
        language,
        "item_line",
        mark=EMOJI[status] if status else ":grey_question:",
        title=mrkdwn_escape(item.title),
        item=escape(item.id),
        status=status or text(language, "status_not_run"),
        message=result_message(language, result) if result else text(language, "not_run"),
    )
    extras = []
    if item.responsible:
        extras.append(text(language, "owner", owner=_owner_mentions(checklist, item.responsible)))
    if result is not None and result.evidence is not None and result.evidence.link:
        extras.append(link(result.evidence.link, text(language, "evidence")))
    return line + ("\n    " + " · ".join(extras) if extras else "")


def result_message(language: str, result: ItemResult) -> str:
    """A result's message as Slack mrkdwn: golive's own wording in ``language``, a probe's
    message as it reported it, escaped either way."""
    return say(language, result.phrase, fallback=result.message, escape=mrkdwn_escape)


def blocker_reason(language: str, blocker: Blocker) -> str:
    """Why a blocker blocks, as Slack mrkdwn in ``language``."""
    return say(language, blocker.phrase, fallback=blocker.reason, escape=mrkdwn_escape)


def blocker_status(language: str, blocker: Blocker) -> str:
    return text(language, "status_not_run") if blocker.status == NOT_RUN else blocker.status


def signoff_reason(language: str, signoff: SignoffState) -> str:
    return say(language, signoff.phrase, fallback=signoff.reason, escape=mrkdwn_escape)


def _owner_mentions(checklist: Checklist, role_id: str) -> str:
    role = checklist.role(role_id)
    people = mentions(role)
    title = escape(clip(role.title, TITLE_SHOWN))
    return f"{title} ({people})" if people else title


def owner_mentions(checklist: Checklist, role_id: str) -> str:
    """The role's title with its approvers mentioned: ``DevOps-Team (<@U…>, <!subteam^S…>)``."""
    return _owner_mentions(checklist, role_id)


def mentions(role: SignoffRole) -> str:
    """The role's approvers as Slack mentions (users, then user groups), comma-separated."""
    return ", ".join(
        [mention(u) for u in role.approvers.users] + [usergroup(g) for g in role.approvers.usergroups]
    )


def verdict_blocks(state: State) -> list[dict[str, Any]]:
    language = _lang(state.checklist)
    verdict = state.verdict
    if verdict.go:
        return [section(text(language, "verdict_go"))]
    lines = [text(language, "verdict_no_go", count=len(verdict.blockers))]
    for blocker in verdict.blockers[:MAX_BLOCKERS_SHOWN]:
        lines.append(
            text(
                language,
                "blocker_line",
                subject=escape(blocker.subject),
                title=mrkdwn_escape(clip(blocker.title, TITLE_SHOWN)),
                status=blocker_status(language, blocker),
                reason=clip(blocker_reason(language, blocker), 300),
            )
        )
    if len(verdict.blockers) > MAX_BLOCKERS_SHOWN:
        lines.append(text(language, "more_blockers", count=len(verdict.blockers) - MAX_BLOCKERS_SHOWN))
    return [section(part) for part in split_text("\n".join(lines))]


def status_message(state: State, phase: str | None = None) -> list[Message]:
    """``/golive status``: counts per phase, the problems of one phase if asked, the verdict."""
    checklist = state.checklist
    language = _lang(checklist)
    title = text(language, "status_header", release=_release(checklist))
    blocks: list[dict[str, Any]] = []
    if state.run is None:
        blocks.append(section(text(language, "status_no_run")))
    phases = [checklist.phase(phase)] if phase else checklist.phases
    lines = [
        text(
            language,
            "phase_summary",
            phase=mrkdwn_escape(p.title),
            counts=counts_line((state.result(i) for i in _items(p)), language),
        )
        for p in phases
    ]
    blocks += [section(part) for part in split_text("\n".join(lines))]
    if phase:
        blocks += _problem_blocks(state, checklist.phase(phase))
    blocks.append({"type": "divider"})
    blocks += verdict_blocks(state)
    fallback = f"{escape(title)}: {state.verdict.decision}"
    return paginate(title, blocks, fallback, language)


def run_message(
    state: State,
    run_id: int,
    done: int,
    total: int,
    finished: bool,
    seconds: float,
    *,
    trigger: str = "",
    phase: str | None = None,
) -> Message:
    """The one message per run, edited in place as phases finish: who started it, what it
    covers, and (for a phase run) which results it shows from earlier runs, how old."""
    checklist = state.checklist
    language = _lang(checklist)
    title = text(language, "run_header", run=run_id, release=_release(checklist))
    lines = [
        text(
            language,
            "phase_summary",
            phase=mrkdwn_escape(p.title),
            counts=counts_line((state.result(i) for i in _items(p)), language),
        )
        for p in checklist.phases
    ]
    progress = (
        text(language, "run_finished", run=run_id, seconds=seconds)
        if finished
        else text(language, "run_progress", done=done, total=total)
    )
    phase_blocks = [section(part) for part in split_text("\n".join(lines))]
    tail: list[dict[str, Any]] = []
    carried = carried_over(state)
    if carried:
        tail.append(context(carried))
    if state.checklist_change is not None:
        tail.append(context(checklist_change_line(checklist, state.checklist_change)))
    if finished:
        tail.append({"type": "divider"})
        tail += verdict_blocks(state)
    fallback = f"{escape(title)}: {progress}" + (f" — {state.verdict.decision}" if finished else "")
    head = [header(title), context(progress, started_by(language, trigger), covers(checklist, phase))]
    blocks = one_message(head, phase_blocks, tail, text(language, "run_more"))
    return Message(fallback_text(fallback), blocks)


def one_message(
    head: list[dict[str, Any]], middle: list[dict[str, Any]], tail: list[dict[str, Any]], more: str
) -> list[dict[str, Any]]:
    """The blocks of a message edited in place, which cannot continue in another: when all
    do not fit, the last of ``middle`` give way to a line saying where they are shown."""
    if fits([*head, *middle, *tail]):
        return [*head, *middle, *tail]
    kept = list(middle)
    while kept and not fits([*head, *kept, context(more), *tail]):
        kept.pop()
    return [*head, *kept, context(more), *tail]


def started_by(language: str, trigger: str) -> str:
    """``slack:U…`` (a person), ``schedule``, ``cli``: who started a run, in words."""
    kind, _, who = trigger.partition(":")
    if kind == "slack" and who:
        return text(language, "run_by_user", user=mention(who))
    if kind == "schedule":
        return text(language, "run_by_schedule")
    if kind == "cli":
        return text(language, "run_by_cli")
    return text(language, "run_by_other", trigger=mrkdwn_escape(trigger or "?"))


def covers(checklist: Checklist, phase: str | None) -> str:
    language = _lang(checklist)
    if phase is None:
        return text(language, "run_covers_all")
    return text(language, "run_covers_phase", phase=mrkdwn_escape(checklist.phase(phase).title))


def carried_over(state: State) -> str | None:
    """The results a run shows from earlier runs, by run, with their age."""
    earlier = state.from_earlier_runs()
    if not earlier:
        return None
    language = _lang(state.checklist)
    oldest: dict[int, datetime] = {}
    for item_id, run in earlier.items():
        result = state.results.get(item_id)
        if result is not None:
            oldest[run] = min(oldest.get(run, result.checked_at), result.checked_at)
    runs = ", ".join(
        text(language, "run_carried_one", run=run, age=short_age(state.at - at, " "))
        for run, at in sorted(oldest.items())
    )
    return text(language, "run_carried_over", count=len(earlier), runs=runs)


def orphaned_run_note(checklist: Checklist, rerun: str | None) -> Message:
    """For the thread of a run whose replica went away mid-run: ``rerun`` is the run that
    stands for it (its number, linked when Slack gave a link), if one does."""
    language = _lang(checklist)
    # ``rerun`` is mrkdwn the bot built: a run number or a link to its message.
    stopped = text(language, "run_orphaned_rerun", rerun=rerun) if rerun else text(language, "run_orphaned")
    return Message(stopped, [section(stopped)])


def orphaned_run_message(checklist: Checklist, run_id: int, rerun: str | None) -> Message:
    """That run's message, in its final state."""
    title = text(_lang(checklist), "run_header", run=run_id, release=_release(checklist))
    note = orphaned_run_note(checklist, rerun)
    return Message(fallback_text(f"{escape(title)}: {note.text}"), [header(title), *note.blocks])


def checklist_change_line(checklist: Checklist, change: ChecklistChange) -> str:
    """'Checklist changed since the previous run: items added: a, b; items removed: c'."""
    language = _lang(checklist)
    parts = []
    if change.added:
        parts.append(text(language, "checklist_items_added", items=escape(", ".join(change.added))))
    if change.removed:
        parts.append(text(language, "checklist_items_removed", items=escape(", ".join(change.removed))))
    changes = "; ".join(parts) or text(language, "checklist_items_same")
    return text(language, "checklist_changed", digest=escape(change.digest[:12]), changes=changes)


def _needs_notice(item: Item, state: State) -> bool:
    """A problem, or anything that keeps the item from counting as fine (a manual item
    awaiting confirmation, an item without a result)."""
    result = state.result(item)
    if result is None:
        return item.blocking
    return result.status in PROBLEMS or not item_ok(item, result.status)


def _problem_blocks(state: State, phase: Phase) -> list[dict[str, Any]]:
    checklist = state.checklist
    lines = [
        item_line(checklist, item, state.result(item)) for item in _items(phase) if _needs_notice(item, state)
    ]
    return [section(part) for part in split_text("\n".join(lines))] if lines else []


def phase_summary(state: State, phase: Phase) -> list[Message]:
    """Per-phase summary for the run's thread: counts, then every problem item in full."""
    checklist = state.checklist
    language = _lang(checklist)
    items = _items(phase)
    results = [state.result(i) for i in items]
    counts = counts_line(results, language)
    summary = text(language, "phase_summary", phase=mrkdwn_escape(phase.title), counts=counts)
    blocks = [section(part) for part in split_text(summary)]
    problems = _problem_blocks(state, phase)
    if problems:
        blocks += problems
    else:
        blocks.append(context(text(language, "phase_all_green", total=len(items))))
    return paginate(phase.title, blocks, f"{escape(phase.title)}: {counts}", language)


def signoff_card(state: State) -> Message:
    checklist = state.checklist
    language = _lang(checklist)
    title = text(language, "signoff_header", release=_release(checklist))
    head: list[dict[str, Any]] = [header(title)]
    if state.run is not None:
        from ...checks.results import fingerprint

        head.append(
            context(text(language, "signoff_intro", run=state.run.id, fingerprint=fingerprint(state.results)))
        )
    blocks: list[dict[str, Any]] = []
    for signoff in state.verdict.signoffs:
        record = signoff.record
        if signoff.holds and record is not None:
            line = text(
                language,
                "signoff_role_held",
                role=escape(clip(signoff.title, TITLE_SHOWN)),
                user=mention(record.user),
                date=f"{record.signed_at:%Y-%m-%d %H:%M} UTC",
            )
            accessory = button(
                text(language, "revoke_button", role=signoff.title), "golive_revoke", signoff.role, "danger"
            )
        else:
            line = text(
                language,
                "signoff_role_pending",
                role=escape(clip(signoff.title, TITLE_SHOWN)),
                reason=clip(signoff_reason(language, signoff), 1000),
            )
            accessory = button(
                text(language, "signoff_button", role=signoff.title),
                "golive_signoff",
                signoff.role,
                "primary",
            )
        # A new block_id per state: Slack keeps stale button state on edits with the same id.
        version = str(int(record.signed_at.timestamp())) if record else "none"
        blocks.append(
            section(
                line, accessory=accessory, block_id=f"signoff:{signoff.role}:{version}:{int(signoff.holds)}"
            )
        )
    blocks += verdict_blocks(state)
    held = sum(1 for s in state.verdict.signoffs if s.holds)
    count = text(language, "signoff_count", held=held, total=len(state.verdict.signoffs))
    fallback = fallback_text(f"{escape(title)}: {count}")
    return Message(fallback, one_message(head, blocks, [], text(language, "card_more")))


def report_summary(state: State) -> list[Message]:
    """``/golive report`` in Slack: the decision, the sign-offs and confirmations with the
    people mentioned, the evidence as links, the notes; the full report goes as a file."""
    checklist = state.checklist
    language = _lang(checklist)
    title = text(language, "report_summary", release=_release(checklist))
    as_of = f"{text(language, 'report_as_of')}: {state.at:%Y-%m-%d %H:%M} UTC"
    run = f"{text(language, 'report_run')} #{state.run.id}" if state.run is not None else ""
    decision = f"{text(language, 'report_decision')}: *{state.verdict.decision}*"
    blocks: list[dict[str, Any]] = [context(*(x for x in (as_of, run, decision) if x))]
    signoffs = []
    for signoff in state.verdict.signoffs:
        record = signoff.record
        if signoff.holds and record is not None:
            date = f"{record.signed_at:%Y-%m-%d %H:%M} UTC"
            held = text(
                language,
                "signoff_role_held",
                role=escape(signoff.title),
                user=mention(record.user),
                date=date,
            )
            signoffs.append(held)
        else:
            reason = signoff_reason(language, signoff)
            signoffs.append(text(language, "signoff_role_pending", role=escape(signoff.title), reason=reason))
    if signoffs:
        blocks.append(section(f"*{text(language, 'report_signoff')}*\n" + "\n".join(signoffs)))
    evidence = []
    for item in checklist.items():
        result = state.result(item)
        if result is None or result.evidence is None or not result.evidence.link:
            continue
        mark = EMOJI[result.status]
        confirmation = state.records.confirmation(item.id) if result.status == Status.PASS else None
        who = f" — {mention(confirmation.user)}" if confirmation is not None else ""
        shown = link(result.evidence.link, text(language, "evidence"))
        evidence.append(f"{mark} *{mrkdwn_escape(item.title)}*{who} · {shown}")
    if evidence:
        heading = f"*{text(language, 'report_evidence')}*"
        blocks += [section(part) for part in split_text("\n".join([heading, *evidence]))]
    notes = [
        f"• {mention(n.author)} ({n.created_at:%Y-%m-%d %H:%M}): {mrkdwn_escape(n.text)}" for n in state.notes
    ]
    heading = f"*{text(language, 'report_notes')}*"
    body = "\n".join(notes) if notes else text(language, "report_no_notes")
    blocks += [section(part) for part in split_text(f"{heading}\n{body}")]
    blocks.append({"type": "divider"})
    blocks += verdict_blocks(state)
    blocks.append(context(text(language, "report_file")))
    return paginate(title, blocks, f"{title}: {state.verdict.decision}", language)


def confirm_cards(state: State) -> list[Message]:
    checklist = state.checklist
    language = _lang(checklist)
    title = text(language, "confirm_header", release=_release(checklist))
    blocks: list[dict[str, Any]] = []
    for item in checklist.items():
        if probe_kind(item.probe_type) != "manual":
            continue
        result = state.result(item)
        confirmation = state.records.confirmation(item.id)
        if result is not None and item_ok(item, result.status) and confirmation is not None:
            line = text(
                language,
                "confirm_item_done",
                title=mrkdwn_escape(clip(item.title, TITLE_SHOWN)),
                user=mention(confirmation.user),
                link=link(confirmation.evidence_url, text(language, "evidence"))
                if confirmation.evidence_url
                else "—",
            )
            blocks.append(section(line))
        else:
            owner = _owner_mentions(checklist, item.responsible) if item.responsible else "—"
            line = text(
                language,
                "confirm_item_pending",
                title=mrkdwn_escape(clip(item.title, TITLE_SHOWN)),
                item=escape(item.id),
                owner=owner,
            )
            blocks.append(
                section(
                    line,
                    accessory=button(text(language, "confirm_button"), "golive_confirm", item.id),
                    block_id=f"confirm:{item.id}",
                )
            )
    return paginate(title, blocks, escape(title), language)


def confirm_modal(checklist: Checklist, item: Item, channel: str) -> dict[str, Any]:
    language = _lang(checklist)
    instructions = getattr(item.config, "instructions", None) or ""
    return {
        "type": "modal",
        "callback_id": "golive_confirm_modal",
        "private_metadata": json.dumps({"item": item.id, "channel": channel}),
        "title": {"type": "plain_text", "text": clip(text(language, "confirm_modal_title"), 24)},
        "submit": {"type": "plain_text", "text": clip(text(language, "confirm_modal_submit"), 24)},
        "blocks": [
            *(section(part) for part in split_text(f"*{escape(item.title)}*\n{escape(instructions)}")),
            {
                "type": "input",
                "block_id": "evidence",
                "label": {"type": "plain_text", "text": text(language, "confirm_modal_evidence")},
                "element": {"type": "url_text_input", "action_id": "url"},
            },
            {
                "type": "input",
                "block_id": "comment",
                "optional": True,
                "label": {"type": "plain_text", "text": text(language, "confirm_modal_comment")},
                "element": {"type": "plain_text_input", "action_id": "text", "max_length": 500},
            },
        ],
    }


def rollback_blocks(checklist: Checklist) -> list[dict[str, Any]]:
    language = _lang(checklist)
    plan = checklist.rollback
    missing = text(language, "rollback_missing")
    steps = "\n".join(f"{n}. {mrkdwn_escape(step)}" for n, step in enumerate(plan.procedure, 1))
    url = plan.procedure_url
    procedure = " ".join(x for x in (url and link(url, url), steps and f"\n{steps}") if x)
    triggers = "\n".join(
        f"• *{mrkdwn_escape(t.name)}* — {mrkdwn_escape(t.description)}" for t in plan.triggers
    )
    roles = "\n".join(
        f"• {mrkdwn_escape(r.role)}: " + ", ".join(_person(p) for p in r.people) for r in plan.roles
    )
    contacts = "\n".join(f"• {_person(c)}" for c in plan.contacts)
    lines = [
        text(language, "rollback_procedure", procedure=procedure or missing),
        text(language, "rollback_revision", revision=escape(plan.known_good_revision or "?")),
        text(language, "rollback_triggers", triggers=triggers or missing),
        text(language, "rollback_roles", roles=roles or missing),
        text(language, "rollback_contacts", contacts=contacts or missing),
        text(
            language, "rollback_communication", plan=mrkdwn_escape(plan.communication_plan or "") or missing
        ),
    ]
    return [header(text(language, "rollback_header"))] + [section(p) for p in split_text("\n\n".join(lines))]


def _person(person: Any) -> str:
    reach = ", ".join(x for x in (person.phone, person.email) if x)
    slack = f" {mention(person.slack)}" if person.slack else ""
    return f"{mrkdwn_escape(person.name)}{slack}" + (f" ({mrkdwn_escape(reach)})" if reach else "")


def go_announcement(state: State, known_good_revision: str | None = None) -> list[Message]:
    """GO with the rollback plan: one message, or more when the plan is long."""
    checklist = state.checklist
    language = _lang(checklist)
    headline = text(language, "go_announcement", release=escape(_release(checklist)))
    blocks = [*(section(part) for part in split_text(headline)), *rollback_blocks(checklist)]
    if known_good_revision and not checklist.rollback.known_good_revision:
        blocks.append(context(text(language, "rollback_revision", revision=escape(known_good_revision))))
    return pages(blocks, headline.replace("*", ""), language)


def deploy_line(language: str, deployment: PendingDeployment) -> str:
    """A deploy a forge holds until GO, as one line of Slack mrkdwn."""
    return text(
        language,
        "deploy_line",
        environment=mrkdwn_escape(deployment.environment),
        repository=mrkdwn_escape(deployment.repository),
        sha=mrkdwn_escape(deployment.sha[:7]),
        forge=escape(deployment.forge),
        since=f"{deployment.received_at:%Y-%m-%d %H:%M}",
    )


def unblocked_context(language: str, deployments: Sequence[PendingDeployment]) -> dict[str, Any]:
    """The GO message's line naming the deploys this GO releases."""
    names = ", ".join(
        text(
            language,
            "deploy_name",
            environment=mrkdwn_escape(d.environment),
            repository=mrkdwn_escape(d.repository),
            sha=mrkdwn_escape(d.sha[:7]),
            forge=escape(d.forge),
        )
        for d in deployments
    )
    return context(text(language, "go_unblocked", deploys=names))


def waiting_deploys_message(language: str, deployments: Sequence[PendingDeployment]) -> list[Message]:
    lines = [text(language, "deploys_waiting"), *(f"• {deploy_line(language, d)}" for d in deployments)]
    body = "\n".join(lines)
    return pages([section(p) for p in split_text(body)], body.replace("*", ""), language)


def no_go_announcement(state: State, reason: str) -> list[Message]:
    """``reason``: Slack mrkdwn, what people wrote in it already escaped (it may mention
    a user, ``<@U…>``)."""
    language = _lang(state.checklist)
    headline = text(language, "no_go_announcement", release=escape(_release(state.checklist)), reason=reason)
    blocks = [*(section(part) for part in split_text(headline)), *verdict_blocks(state)]
    return pages(blocks, headline.replace("*", ""), language)


def plain(message: Message) -> str:
    """A readable text rendering of a message's blocks, for the console surface."""
    lines: list[str] = []
    for block in message.blocks:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            lines += [title, "=" * min(len(title), 80)]
        elif kind == "section":
            lines.append(block["text"]["text"])
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                lines.append(f"    [{accessory['text']['text']}]")
        elif kind == "context":
            lines.append("  " + " · ".join(e.get("text", "") for e in block["elements"]))
        elif kind == "divider":
            lines.append("-" * 40)
    return plain_text("\n".join(lines) if lines else message.text)
