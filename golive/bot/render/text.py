"""Text rendering for the terminal, as rich markup: item lines, the run's compact summary,
the verdict line. Printed through a console that drops the markup (and every control code)
when the output is not a terminal, so a pipe or a CI log gets plain lines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ...checks.model import Checklist, Phase
from ...checks.results import ItemResult
from ...checks.status import Status
from ...checks.verdict import NOT_RUN, SignoffState
from ..state import State
from .blocks import checklist_change_line
from .messages import say, text
from .plaintext import plain_text
from .statuses import LOOKS

#: How a status that is not an item status (a blocker "NOT RUN") is shown.
UNKNOWN_SYMBOL, UNKNOWN_COLOUR = "?", "cyan"
#: Blockers listed by name in the compact summary; the rest are counted.
MAX_BLOCKERS_LISTED = 20


def escape(text: str) -> str:
    """Rich markup must not interpret brackets in messages like ``[STATUS] = 500``."""
    return text.replace("[", r"\[")


def mark(status: Status | str, width: int = 0) -> str:
    """The status's symbol and name in its colour, e.g. ``[red]✘ FAIL[/]``."""
    symbol, colour = _symbol_and_colour(status)
    return f"[{colour}]{symbol} {status!s:<{width}}[/]"


def _symbol_and_colour(status: Status | str) -> tuple[str, str]:
    try:
        look = LOOKS[Status(status)]
    except ValueError:
        return UNKNOWN_SYMBOL, UNKNOWN_COLOUR
    return look.symbol, look.colour


def progress_line(checklist: Checklist, result: ItemResult) -> str:
    item = checklist.item(result.item_id)
    return (
        f"{mark(result.status, 7)} {item.phase:<6} {item.id:<28} "
        f"{escape(item.title)} [dim]({result.duration_ms:.0f} ms)[/] — "
        f"{escape(say(checklist.release.language, result.phrase, fallback=result.message))}"
    )


def counts(statuses: Iterable[Status]) -> str:
    """``2 ✘ FAIL, 5 ✔ PASS``: worst first."""
    tally: dict[Status, int] = {}
    for status in statuses:
        tally[status] = tally.get(status, 0) + 1
    ordered = sorted(tally.items(), key=lambda kv: -kv[0].severity)
    return ", ".join(f"{n} {mark(status)}" for status, n in ordered)


def _phase_statuses(state: State, phase: Phase) -> list[Status]:
    return [
        result.status
        for section in phase.sections
        for item in section.items
        if (result := state.result(item)) is not None
    ]


def phase_line(state: State, phase: Phase) -> str:
    """One line per phase: its worst status's symbol, its title, its counts."""
    statuses = _phase_statuses(state, phase)
    if not statuses:
        not_run = text(state.checklist.release.language, "console_not_run")
        return f"  [dim]· {escape(phase.title)}: {not_run}[/]"
    worst = max(statuses, key=lambda s: s.severity)
    symbol, colour = _symbol_and_colour(worst)
    return f"  [{colour}]{symbol}[/] [bold]{escape(phase.title)}[/]: {counts(statuses)}"


def signoff_line(signoff: SignoffState, language: str) -> str:
    """A sign-off role: holds (as a PASS looks) or pending (as a PENDING looks)."""
    symbol, colour = _symbol_and_colour(Status.PASS if signoff.holds else Status.PENDING)
    word = text(language, "console_holds" if signoff.holds else "console_pending")
    reason = say(language, signoff.phrase, fallback=signoff.reason)
    return f"[{colour}]{symbol} {word}[/] {escape(signoff.title)}: {escape(reason)}"


def summary(state: State) -> list[str]:
    """Per phase a line, then the sign-offs."""
    lines = [phase_line(state, phase) for phase in state.checklist.phases]
    lines.append(signoffs_line(state))
    return lines


def signoffs_line(state: State) -> str:
    language = state.checklist.release.language
    held = sum(1 for s in state.verdict.signoffs if s.holds)
    hold = text(language, "console_signoffs_hold", held=held, total=len(state.verdict.signoffs))
    return f"  [bold]{text(language, 'console_signoffs')}[/]: {hold}"


def verdict_line(state: State) -> str:
    """The verdict in one line, with the run and the release it is for."""
    language = state.checklist.release.language
    release = f"{state.checklist.release.name} v{state.checklist.release.version}"
    where = (
        text(language, "console_run_of", run=state.own_run, release=release)
        if state.own_run is not None
        else release
    )
    verdict = state.verdict
    if verdict.go:
        return f"[bold green]GO[/]: {text(language, 'console_go')} ({escape(where)})"
    count = text(language, "console_no_go", count=len(verdict.blockers))
    return f"[bold red]NO-GO[/]: {count} ({escape(where)})"


def blocker_lines(state: State, limit: int | None = None) -> list[str]:
    language = state.checklist.release.language
    blockers = state.verdict.blockers
    shown = blockers if limit is None else blockers[:limit]
    lines = []
    for b in shown:
        status = (
            f"[{UNKNOWN_COLOUR}]{UNKNOWN_SYMBOL} {text(language, 'status_not_run')}[/]"
            if b.status == NOT_RUN
            else mark(b.status)
        )
        reason = say(language, b.phrase, fallback=b.reason)
        lines.append(f"  {status} [bold]{escape(b.subject)}[/] {escape(b.title)}: {escape(reason)}")
    if len(blockers) > len(shown):
        lines.append(f"  … {text(language, 'console_more_blockers', count=len(blockers) - len(shown))}")
    return lines


def verdict_lines(state: State) -> list[str]:
    """The verdict line, then every blocker with its message."""
    return [verdict_line(state), *blocker_lines(state)]


def run_summary(state: State, phases: Sequence[Phase], charts: str | None) -> list[str]:
    """The compact report of a run: the verdict, the counts per status, per phase a line,
    the blockers with their messages, how the checklist changed, where the charts went."""
    language = state.checklist.release.language
    ids = {item.id for phase in phases for section in phase.sections for item in section.items}
    own = [r.status for item_id, r in state.results.items() if item_id in ids]
    decided = counts(own) or text(language, "console_none_decided")
    lines = [verdict_line(state), f"[bold]{text(language, 'console_items')}[/]: {decided}"]
    lines += [phase_line(state, phase) for phase in phases]
    lines.append(signoffs_line(state).strip())
    if state.verdict.blockers:
        lines.append(f"[bold]{text(language, 'console_blockers')}[/]:")
        lines += blocker_lines(state, MAX_BLOCKERS_LISTED)
    if state.checklist_change is not None:
        change = plain_text(checklist_change_line(state.checklist, state.checklist_change))
        lines.append(escape(change))
    if charts:
        lines.append(f"[bold]{text(language, 'console_charts')}[/]: {escape(charts)}")
    return lines


def not_run_line(state: State, item_id: str) -> str:
    """An item without a result in ``golive status``."""
    item = state.checklist.item(item_id)
    label = text(state.checklist.release.language, "status_not_run")
    return f"  {label}  {item.phase:<6} {item.id:<28} {escape(item.title)}"
