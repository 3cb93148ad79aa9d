"""How each status looks, on every surface: one table, so a FAIL is the same red cross in
the terminal, in Slack and in a chart."""

from __future__ import annotations

from dataclasses import dataclass

from ...checks.status import Status


@dataclass(frozen=True)
class Look:
    #: Shown before the status in the terminal and in plain text; one column wide, so
    #: lines of items stay aligned.
    symbol: str
    #: The terminal's colour (a rich style).
    colour: str
    #: The Slack emoji code.
    emoji: str
    #: The colour in charts and their legends.
    chart: str


LOOKS: dict[Status, Look] = {
    Status.PASS: Look("✔", "green", ":white_check_mark:", "#2ca02c"),
    Status.WARN: Look("!", "yellow", ":warning:", "#f2b701"),
    Status.FAIL: Look("✘", "red", ":x:", "#d62728"),
    Status.ERROR: Look("⚠", "magenta", ":boom:", "#7b2d8e"),
    Status.STALE: Look("◷", "yellow", ":hourglass:", "#8c564b"),
    Status.PENDING: Look("…", "cyan", ":hourglass_flowing_sand:", "#5b8fd9"),
    Status.WAIVED: Look("~", "blue", ":no_entry_sign:", "#17becf"),
    Status.SKIPPED: Look("↷", "dim", ":fast_forward:", "#9e9e9e"),
}


def look(status: Status | str) -> Look:
    """The look of a status, given as the enum or its name (as stored, ``"FAIL"``)."""
    return LOOKS[Status(status)]
