"""Time in the checklist: release windows, maintenance windows, cron expressions.

Pure functions, shared by the model (which validates them when the checklist loads) and
the bot (which asks whether a moment lies in a window, and when the next run is due).

A window's ``start`` and ``end`` are either both times of day (``"08:00"``, a window on
every day, crossing midnight when ``end`` is earlier than ``start``) or both date-times
(``"2026-03-02T08:00"``, one absolute window). Date-times without an offset are read in
the window's ``timezone``.

Cron expressions are the classic five crontab fields. APScheduler 3 reads numeric days of
the week with 0 = Monday (its issue #286, fixed only in 4.x); crontab means 0 = Sunday.
:func:`cron_fields` rewrites the day-of-week field into weekday names, so ``1-5`` means
Monday to Friday as every crontab reader expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_WEEKDAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_DOW_PART = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?$")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError naming it when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: write an IANA name like 'Europe/Berlin' or 'UTC'"
        ) from None


@dataclass(frozen=True)
class Bounds:
    """A window, parsed: daily (``daily_start``/``daily_end``) or absolute (``start``/``end``)."""

    tz: tzinfo
    daily_start: time | None = None
    daily_end: time | None = None
    start: datetime | None = None
    end: datetime | None = None

    @property
    def daily(self) -> bool:
        return self.daily_start is not None

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` (an aware datetime) lies in the window; the end is exclusive."""
        if self.start is not None and self.end is not None:
            return self.start <= at < self.end
        assert self.daily_start is not None and self.daily_end is not None
        clock = at.astimezone(self.tz).time().replace(tzinfo=None)
        if self.daily_start < self.daily_end:
            return self.daily_start <= clock < self.daily_end
        # Crossing midnight (22:00–06:00): late evening or early morning.
        return clock >= self.daily_start or clock < self.daily_end


def parse_window(start: str, end: str, timezone: str) -> Bounds:
    """ValueError with the rule when the bounds are not both times or both date-times."""
    tz = zone(timezone)
    start_clock, end_clock = _CLOCK.match(start.strip()), _CLOCK.match(end.strip())
    if start_clock and end_clock:
        first = time(int(start_clock[1]), int(start_clock[2]))
        last = time(int(end_clock[1]), int(end_clock[2]))
        if first == last:
            raise ValueError("start and end are the same time: the window would be empty")
        return Bounds(tz, daily_start=first, daily_end=last)
    if start_clock or end_clock:
        raise ValueError("write start and end both as times of day ('08:00') or both as date-times")
    first_at, last_at = _datetime(start, tz, "start"), _datetime(end, tz, "end")
    if last_at <= first_at:
        raise ValueError(f"end ({end}) must be after start ({start})")
    return Bounds(tz, start=first_at, end=last_at)


def _datetime(value: str, tz: tzinfo, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{field} {value!r} is neither a time of day ('08:00') nor a date-time ('2026-03-02T08:00')"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def cron_fields(expression: str) -> dict[str, str]:
    """The five crontab fields as APScheduler ``CronTrigger`` keyword arguments, with the
    day of the week in crontab's meaning (0 and 7 are Sunday)."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron expression has five fields (minute hour day month weekday), not {len(fields)}: "
            f"{expression!r}"
        )
    minute, hour, day, month, weekday = fields
    return {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": _weekdays(weekday)}


def _weekdays(field: str) -> str:
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        match = _DOW_PART.match(part)
        if match is None:
            raise ValueError(f"day of week {part!r}: write 0-7, sun-sat, ranges (1-5) and steps (*/2)")
        span, step = match[1], int(match[2] or 1)
        if step == 0:
            raise ValueError(f"day of week {part!r}: a step must be at least 1")
        if span == "*":
            first, last = 0, 6
        else:
            first_text, _, last_text = span.partition("-")
            first = _weekday(first_text)
            last = _weekday(last_text) if last_text else (6 if match[2] else first)
            if last_text and last == 0 < first:
                last = 7  # fri-sun: Sunday closes the week
            if last < first:
                raise ValueError(f"day of week {part!r}: a range runs forwards, e.g. 1-5 or fri-sun")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_WEEKDAY_NAMES[day] for day in sorted(days))


def _weekday(text: str) -> int:
    """0–7 as written (7 is Sunday too, and may close a range: 5-7), or a name's number."""
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)
    if text in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES.index(text)
    raise ValueError(f"day of week {text!r}: write 0-7 (0 and 7 are Sunday) or sun, mon, …, sat")


def check_cron(expression: str, timezone: str) -> None:
    """ValueError when APScheduler would refuse the expression (checked at load, not at
    the first scheduled run)."""
    from apscheduler.triggers.cron import CronTrigger

    CronTrigger(**cron_fields(expression), timezone=zone(timezone))
