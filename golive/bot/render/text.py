"""Plain-text rendering for the terminal: live progress lines, phase summaries, verdict."""

from __future__ import annotations

from ...checks.model import Checklist
from ...checks.results import ItemResult
from ...checks.status import Status
from ...checks.verdict import NOT_RUN
from ..state import State
from .messages import say, text

MARKS = {
    Status.PASS: "✔",
    Status.WARN: "!",
    Status.FAIL: "✘",
    Status.ERROR: "⚠",
    Status.STALE: "⌛",
    Status.PENDING: "…",
    Status.WAIVED: "~",
    Status.SKIPPED: "↷",
}
STYLES = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "red",
    Status.ERROR: "magenta",
    Status.STALE: "yellow",
    Status.PENDING: "cyan",
    Status.WAIVED: "blue",
    Status.SKIPPED: "dim",
}


def progress_line(checklist: Checklist, result: ItemResult) -> str:
    item = checklist.item(result.item_id)
    status = result.status
    return (
        f"[{STYLES[status]}]{MARKS[status]} {status:<7}[/] {item.phase:<6} {item.id:<28} "
        f"{item.title} [dim]({result.duration_ms:.0f} ms)[/] — "
        f"{escape(say(checklist.release.language, result.phrase, fallback=result.message))}"
    )


def escape(text: str) -> str:
    """Rich markup must not interpret brackets in messages like ``[STATUS] = 500``."""
    return text.replace("[", r"\[")


def summary(state: State) -> list[str]:
    language = state.checklist.release.language
    lines = []
    for phase in state.checklist.phases:
        counts: dict[Status, int] = {}
        for section in phase.sections:
            for item in section.items:
                result = state.result(item)
                if result is not None:
                    counts[result.status] = counts.get(result.status, 0) + 1
        shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[0].severity))
        lines.append(f"[bold]{escape(phase.title)}[/]: {shown or text(language, 'console_not_run')}")
    held = sum(1 for s in state.verdict.signoffs if s.holds)
    hold = text(language, "console_signoffs_hold", held=held, total=len(state.verdict.signoffs))
    lines.append(f"[bold]{text(language, 'console_signoffs')}[/]: {hold}")
    return lines


def verdict_lines(state: State) -> list[str]:
    language = state.checklist.release.language
    verdict = state.verdict
    if verdict.go:
        return [f"[bold green]GO[/]: {text(language, 'console_go')}"]
    lines = [f"[bold red]NO-GO[/]: {text(language, 'console_no_go', count=len(verdict.blockers))}"]
    for blocker in verdict.blockers:
        status = text(language, "status_not_run") if blocker.status == NOT_RUN else blocker.status
        reason = say(language, blocker.phrase, fallback=blocker.reason)
        lines.append(f"  • {blocker.subject} ({status}) {escape(blocker.title)}: {escape(reason)}")
    return lines


def signoff_line(state: State, role: str) -> str:
    """A sign-off role in ``golive status``: whether it holds, and why."""
    language = state.checklist.release.language
    signoff = next(s for s in state.verdict.signoffs if s.role == role)
    mark = (
        f"[green]✔ {text(language, 'console_holds')}[/]"
        if signoff.holds
        else f"[cyan]… {text(language, 'console_pending')}[/]"
    )
    reason = say(language, signoff.phrase, fallback=signoff.reason)
    return f"{mark} {escape(signoff.title)}: {escape(reason)}"


def not_run_line(state: State, item_id: str) -> str:
    """An item without a result in ``golive status``."""
    item = state.checklist.item(item_id)
    label = text(state.checklist.release.language, "status_not_run")
    return f"  {label}  {item.phase:<6} {item.id:<28} {escape(item.title)}"
