"""Plain-text rendering for the terminal: live progress lines, phase summaries, verdict."""

from __future__ import annotations

from ...checks.model import Checklist
from ...checks.results import ItemResult
from ...checks.status import Status
from ..state import State

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
        f"{item.title} [dim]({result.duration_ms:.0f} ms)[/] — {escape(result.message)}"
    )


def escape(text: str) -> str:
    """Rich markup must not interpret brackets in messages like ``[STATUS] = 500``."""
    return text.replace("[", r"\[")


def summary(state: State) -> list[str]:
    lines = []
    for phase in state.checklist.phases:
        counts: dict[Status, int] = {}
        for section in phase.sections:
            for item in section.items:
                result = state.result(item)
                if result is not None:
                    counts[result.status] = counts.get(result.status, 0) + 1
        shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[0].severity))
        lines.append(f"[bold]{escape(phase.title)}[/]: {shown or 'not run'}")
    held = sum(1 for s in state.verdict.signoffs if s.holds)
    lines.append(f"[bold]Sign-offs[/]: {held} of {len(state.verdict.signoffs)} hold")
    return lines


def verdict_lines(state: State) -> list[str]:
    verdict = state.verdict
    if verdict.go:
        return ["[bold green]GO[/]: every blocking item passes and every sign-off holds."]
    lines = [f"[bold red]NO-GO[/]: {len(verdict.blockers)} blocker(s)"]
    for blocker in verdict.blockers:
        lines.append(
            f"  • {blocker.subject} ({blocker.status}) {escape(blocker.title)}: {escape(blocker.reason)}"
        )
    return lines
