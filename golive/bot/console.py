"""The console surface: what the bot would post in Slack, printed (``golive run``, and
``golive serve`` without Slack credentials)."""

from __future__ import annotations

import itertools
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from .ops.metrics import METRICS, Metrics
from .render.blocks import Message, plain

if TYPE_CHECKING:
    from .render.chart_file import Chart

log = structlog.get_logger(__name__)


class ConsoleSurface:
    """Prints each message as readable text and writes chart PNGs to a folder."""

    def __init__(self, folder: Path, out: TextIO | None = None, *, show_edits: bool = False) -> None:
        self.folder = folder
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
            self._print(f"edit {channel} ts {ts}", message, "edit")
        self._pending.clear()

    async def post(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        self.flush()
        ts = f"{next(self._ts)}.000000"
        where = f"{channel}, thread {thread_ts}" if thread_ts else channel
        self._print(f"post to {where} (ts {ts})", message)
        return ts

    def certainly_not_posted(self, error: BaseException) -> bool:
        return False  # printing cannot fail halfway; a failure is not a refusal

    async def find_post(self, channel: str, event_type: str, token: str, oldest: datetime) -> str | None:
        return None  # printing cannot fail halfway: nothing printed is ever in doubt

    async def update(self, channel: str, ts: str, message: Message) -> None:
        if self.show_edits:
            self._print(f"edit {channel} ts {ts}", message, "edit")
        else:
            self._pending[(channel, ts)] = message

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
        self.flush()
        self._print(f"only for {user} in {channel}", message, "ephemeral")

    async def upload(self, channel: str, thread_ts: str | None, chart: Chart) -> None:
        self.flush()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / chart.filename
        path.write_bytes(chart.png)
        self.charts.append(path)
        heading = f"chart for {channel}, thread {thread_ts}: {path}"
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
