"""The console: what the bot would post in Slack, printed (``golive run``) or logged
(``golive serve`` without Slack credentials), and a run's live progress on a terminal."""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from ..checks.model import Checklist, Item
from ..checks.probe import probe_kind
from ..checks.results import ItemResult
from .ops.metrics import METRICS, Metrics
from .render import text as render_text
from .render.blocks import Message, plain
from .render.messages import text

if TYPE_CHECKING:
    from .render.chart_file import Chart

if TYPE_CHECKING:  # rich is imported when a display is drawn, not with this module
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live
    from rich.progress import Progress, TaskID

log = structlog.get_logger(__name__)


class ConsoleSurface:
    """Prints each message as readable text and writes chart PNGs to a folder."""

    def __init__(
        self, folder: Path, out: TextIO | None = None, *, show_edits: bool = False, language: str = "en"
    ) -> None:
        # ``golive run`` hands a buffer and prints it after the run with --verbose: a
        # terminal's live display must not be written through.
        self.folder = folder
        #: The checklist's: the headings say where a message would go in its words too.
        self.language = language
        self.out = out or sys.stdout
        self.show_edits = show_edits
        self._ts = itertools.count(1)
        self._pending: dict[tuple[str, str], Message] = {}
        self.charts: list[Path] = []

    def _print(self, heading: str, message: Message, kind: str = "post") -> None:
        self._show(kind, heading, plain(message))

    def _show(self, kind: str, heading: str, body: str) -> None:
        self.out.write(f"\n── {heading} ──\n{body}\n")
        self.out.flush()

    def flush(self) -> None:
        """Print the latest version of every edited message: a terminal cannot edit in
        place, so intermediate progress edits are folded into their final state."""
        for (channel, ts), message in self._pending.items():
            self._print(self._t("console_edit", channel=channel, ts=ts), message, "edit")
        self._pending.clear()

    def _t(self, key: str, **values: Any) -> str:
        return text(self.language, key, **values)

    async def post(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        self.flush()
        ts = f"{next(self._ts)}.000000"
        where = self._t("console_in_thread", channel=channel, thread=thread_ts) if thread_ts else channel
        self._print(self._t("console_post_to", where=where, ts=ts), message)
        return ts

    def certainly_not_posted(self, error: BaseException) -> bool:
        return False  # printing cannot fail halfway; a failure is not a refusal

    async def find_post(self, channel: str, event_type: str, token: str, oldest: datetime) -> str | None:
        return None  # printing cannot fail halfway: nothing printed is ever in doubt

    async def update(self, channel: str, ts: str, message: Message) -> None:
        if self.show_edits:
            self._print(self._t("console_edit", channel=channel, ts=ts), message, "edit")
        else:
            self._pending[(channel, ts)] = message

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
        self.flush()
        self._print(self._t("console_only_for", user=user, channel=channel), message, "ephemeral")

    async def upload(self, channel: str, thread_ts: str | None, chart: Chart) -> None:
        self.flush()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / chart.filename
        path.write_bytes(chart.png)
        self.charts.append(path)
        heading = self._t("console_chart_for", channel=channel, thread=thread_ts, path=path)
        self._show("chart", heading, f"{chart.title}\n{chart.alt_text}")

    async def permalink(self, channel: str, ts: str) -> str | None:
        return None  # a terminal has no links to messages


class LoggedSurface(ConsoleSurface):
    """``golive serve`` without Slack: each message it would post is a log line (where, and
    its text) and counted in ``golive_console_messages_total``; charts go to a folder.
    Every edit is logged, as it happens: a log has no terminal to fold them for."""

    def __init__(self, folder: Path, metrics: Metrics = METRICS) -> None:
        super().__init__(folder, show_edits=True)
        self.metrics = metrics

    def _show(self, kind: str, heading: str, body: str) -> None:
        self.metrics.console_messages.labels(kind=kind).inc()
        log.info("would post in Slack", kind=kind, where=heading, text=body)


class RunProgress:
    """A run's live display on a terminal: items decided of the total, overall and per
    phase, the slowest probe still running (its item and for how long) and the time
    elapsed. Removed when the run ends, for the summary to take its place.

    The runner reports results, not starts: a probe counts as running from the run's
    start, or from its last dependency's result when it waits for one; among probes
    running equally long the first in checklist order is named, as the runner starts
    them (and lets them through its concurrency limit) in that order."""

    def __init__(
        self,
        checklist: Checklist,
        phase: str | None,
        console: Console,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = console
        self.clock = clock
        self.items = [i for i in checklist.items() if phase is None or i.phase == phase]
        # Manual items are decided at once and derived ones after every probe: neither runs.
        self.probed = {i.id for i in self.items if probe_kind(i.probe_type) == "auto"}
        self.phase_of = {i.id: i.phase for i in self.items}
        self.decided_at: dict[str, float] = {}
        self.started_at = clock()
        self.bars: Progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            auto_refresh=False,
        )
        self.total: TaskID = self.bars.add_task("[bold]all items[/]", total=len(self.items))
        self.phases: dict[str, TaskID] = {}
        for chosen in checklist.phases:
            size = sum(1 for i in self.items if i.phase == chosen.id)
            if size:
                self.phases[chosen.id] = self.bars.add_task(
                    f"  {render_text.escape(chosen.title)}", total=size
                )
        self.live: Live = Live(
            self,
            console=console,
            transient=True,
            refresh_per_second=8,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def __enter__(self) -> RunProgress:
        self.started_at = self.clock()
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def decided(self, result: ItemResult) -> None:
        phase = self.phase_of.get(result.item_id)
        if phase is None or result.item_id in self.decided_at:
            return  # not of this run's selection, or already counted
        self.decided_at[result.item_id] = self.clock()
        self.bars.advance(self.total)
        self.bars.advance(self.phases[phase])

    def print(self, line: str) -> None:
        """A line above the display (rich markup)."""
        self.console.print(line)

    def slowest(self) -> tuple[Item, float, int] | None:
        """The probe running longest, how long, and how many are running."""
        now = self.clock()
        running: list[tuple[float, int, Item]] = []
        for index, item in enumerate(self.items):
            if item.id in self.decided_at or item.id not in self.probed:
                continue
            waits = [d for d in item.depends_on if d in self.phase_of]
            if any(d not in self.decided_at for d in waits):
                continue  # not started: its dependency has no result yet
            since = max([self.started_at, *(self.decided_at[d] for d in waits)])
            running.append((since, index, item))
        if not running:
            return None
        since, _, item = min(running)
        return item, now - since, len(running)

    def status_line(self) -> str:
        elapsed = self.clock() - self.started_at
        line = f"[dim]{elapsed:.1f} s elapsed[/]"
        slowest = self.slowest()
        if slowest is not None:
            item, seconds, running = slowest
            others = f" and {running - 1} more" if running > 1 else ""
            line += (
                f" · slowest still running: [bold]{render_text.escape(item.id)}[/] "
                f"({render_text.escape(item.title)}) for {seconds:.1f} s{others}"
            )
        elif len(self.decided_at) == len(self.items):
            line += " · every item decided; storing the verdict and drawing the charts"
        return line

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Drawn anew at every refresh, so the times go on while no result arrives.
        yield self.bars.get_renderable()
        yield self.status_line()
