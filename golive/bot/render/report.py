"""``golive report --format md``: the seed checklist, filled in.

Same headings and lines as the document the release team used to tick by hand, with
``[x]`` where the item is fine, its status, who confirmed it and when, the evidence link,
sign-off names and dates, and the notes.
"""

from __future__ import annotations

from ...checks.results import ItemResult
from ...checks.verdict import item_ok
from ..state import State
from .blocks import Message, reply, split_text
from .messages import say, text
from .mrkdwn import escape


class _Words:
    """The report's labels in the checklist's language, from the one catalogue."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __getitem__(self, key: str) -> str:
        return text(self.language, f"report_{key}")


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else ""


def _line(title: str, ok: bool, result: ItemResult | None, words: _Words) -> str:
    box = "[x]" if ok else "[ ]"
    if result is None:
        return f"- {box} {title} — _{words['not_run']}_"
    parts = [f"**{result.status}**", _when(result.checked_at)]
    detail = say(words.language, result.phrase, fallback=result.message).replace("\n", " ")
    if len(detail) > 300:
        detail = detail[:297] + "..."
    line = f"- {box} {title} — " + " · ".join(p for p in parts if p) + f" — {detail}"
    if result.evidence is not None and result.evidence.link:
        line += f" ([{words['evidence']}]({result.evidence.link}))"
    return line


def render_markdown(state: State) -> str:
    checklist = state.checklist
    words = _Words(checklist.release.language)
    release = checklist.release
    run = state.run
    title = text(words.language, "report_title", name=release.name, version=release.version)
    out = [f"# {title}", ""]
    header = f"_{words['as_of']}: {_when(state.at)}"
    if run is not None:
        header += f" · {words['run']} #{run.id}"
    header += f" · {words['decision']}: **{state.verdict.decision}**_"
    # The checklist the decision was made on: its digest names the exact file.
    out += [header, "", f"_{words['checklist']}: sha256 `{checklist.digest}`_", ""]
    for phase in checklist.phases:
        out += [f"## {phase.title}", ""]
        for section in phase.sections:
            out += [f"### {section.title}"]
            for item in section.items:
                result = state.result(item)
                ok = result is not None and item_ok(item, result.status)
                out.append(_line(item.title, ok, result, words))
            out.append("")
    out += [f"## {words['signoff']}", ""]
    for signoff in state.verdict.signoffs:
        record = signoff.record
        if signoff.holds and record is not None:
            out.append(
                f"- [x] {signoff.title}: {record.user} {words['date']}: {record.signed_at:%Y-%m-%d} "
                f"({words['run']} #{record.run_id})"
            )
        else:
            reason = say(words.language, signoff.phrase, fallback=signoff.reason)
            out.append(f"- [ ] {signoff.title}: _______________ {words['date']}: ______ — {reason}")
    out.append("")
    out += _rollback(state, words)
    if not state.verdict.go:
        out += [
            f"**{words['blockers']}:** "
            + (", ".join(b.subject for b in state.verdict.blockers) or words["none"]),
            "",
        ]
    out += [f"## {words['notes']}", ""]
    if state.notes:
        out += [f"- {_when(n.created_at)} {n.author}: {n.text}" for n in state.notes]
    else:
        out.append(words["no_notes"])
    out.append("")
    return "\n".join(out)


def _rollback(state: State, words: _Words) -> list[str]:
    plan = state.checklist.rollback
    lines = [f"## {words['rollback']}", ""]
    if plan.procedure_url:
        lines.append(f"- {words['procedure']}: {plan.procedure_url}")
    lines += [f"  {n}. {step}" for n, step in enumerate(plan.procedure, 1)]
    if plan.known_good_revision:
        lines.append(f"- {words['known_good']}: `{plan.known_good_revision}`")
    lines += [f"- {words['trigger']}: **{t.name}** — {t.description}" for t in plan.triggers]
    for role in plan.roles:
        people = ", ".join(p.name + (f" (<@{p.slack}>)" if p.slack else "") for p in role.people)
        lines.append(f"- {role.role}: {people}")
    for contact in plan.contacts:
        reach = ", ".join(x for x in (contact.phone, contact.email) if x)
        lines.append(f"- {words['contact']}: {contact.name}" + (f" — {reach}" if reach else ""))
    if plan.communication_plan:
        lines.append(f"- {words['communication']}: {plan.communication_plan.strip()}")
    lines.append("")
    return lines if len(lines) > 3 else []


def report_messages(state: State) -> list[Message]:
    """The report as Slack shows it: the Markdown in code blocks, escaped (notes and
    reasons are people's text), over as many messages as it needs."""
    parts = split_text(escape(render_markdown(state)), 2900)
    return [message for part in parts for message in reply(f"```{part}```", state.checklist.release.language)]
