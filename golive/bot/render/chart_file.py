"""A drawn chart as the surfaces post it: PNG bytes, a file name, a title and the alt text.

Kept apart from :mod:`.charts` (the drawing, which imports matplotlib): the chart worker
draws and sends a :class:`Chart` back, and reading it in `golive serve` or `golive run`
must not import matplotlib there."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    filename: str
    title: str
    alt_text: str
    png: bytes
