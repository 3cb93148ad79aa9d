"""Durations written the way people write them in YAML: ``500ms``, ``10s``, ``15m``, ``7d``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")


def parse_duration(value: Any) -> timedelta:
    """``"1h30m"`` → 5400 s; a bare number is seconds. Raises ValueError with the rule."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or a string like '30s', '15m', '7d'")
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value.strip()))
        else:
            raise ValueError(
                f"{_shown(value)} is not a duration: write a number of seconds or a string like "
                "'500ms', '30s', '15m', '24h', '7d'"
            )
        if not seconds > 0:  # also NaN
            raise ValueError(f"{_shown(value)}: a duration must be positive")
        return timedelta(seconds=seconds)
    except OverflowError:  # an int too large for a float, or more than timedelta.max
        limit = timedelta.max.days
        raise ValueError(f"{_shown(value)}: a duration must be shorter than {limit} days") from None


def _shown(value: Any) -> str:
    """The value as written, shortened: a 5000-digit number makes a poor error message."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}…"


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling: 86400 s → ``1d``, 90 s → ``90s``."""
    seconds = delta.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"},
                {"type": "number", "exclusiveMinimum": 0},
            ],
            "description": "seconds, or a string like '500ms', '30s', '15m', '24h', '7d'",
        }
    ),
]


def short_age(delta: timedelta | None, unit_gap: str = "") -> str:
    """An age to one decimal of its largest unit: ``1.5d``, ``2.0h``, ``12m``, ``40s``;
    ``unit_gap`` goes between number and unit (Slack's run message writes ``12 min``)."""
    if delta is None:
        return "?"
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}{unit_gap}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}{unit_gap}h"
    if seconds >= 60:
        return f"{seconds // 60}{unit_gap}{'min' if unit_gap else 'm'}"
    return f"{seconds}{unit_gap}s"
