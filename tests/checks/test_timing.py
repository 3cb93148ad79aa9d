"""Schedules, windows, alert policies and rollback triggers in the checklist: what loads,
and what fails at load with the field named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from golive.checks.errors import ChecklistError
from golive.checks.loader import loads
from golive.checks.model import Checklist
from golive.checks.timing import cron_fields, parse_window

from .probes_for_tests import checklist_yaml


def load(items: list[dict[str, Any]] | None = None, **top: Any) -> Checklist:
    items = items or [{"id": "a", "title": "A", "probe": {"type": "manual"}}]
    return loads(checklist_yaml(items, **top), env={})


def problems(text: str) -> list[str]:
    with pytest.raises(ChecklistError) as caught:
        loads(text, env={})
    return [f"{p.where}: {p.field}: {p.message}" for p in caught.value.problems]


def problems_of(items: list[dict[str, Any]] | None = None, **top: Any) -> list[str]:
    items = items or [{"id": "a", "title": "A", "probe": {"type": "manual"}}]
    return problems(checklist_yaml(items, **top))


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("0-6", "sun,mon,tue,wed,thu,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("5-7", "sun,fri,sat"),
        ("fri-sun", "sun,fri,sat"),
        ("MON-FRI", "mon,tue,wed,thu,fri"),
        ("*", "*"),
    ],
)
def test_crontab_weekdays(field: str, names: str) -> None:
    assert cron_fields(f"0 9 * * {field}")["day_of_week"] == names


@pytest.mark.parametrize("expression", ["0 9 * *", "0 9 * * 8", "0 9 * * 5-1", "0 9 * * */0", "0 9 * * mo"])
def test_bad_crontab_weekdays(expression: str) -> None:
    with pytest.raises(ValueError, match=r"five fields|day of week"):
        cron_fields(expression)


def test_windows() -> None:
    daily = parse_window("08:00", "18:00", "Europe/Berlin")
    assert daily.daily and daily.contains(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    one = parse_window("2026-03-02T08:00", "2026-03-02T10:00+00:00", "Europe/Berlin")
    assert one.start == datetime(2026, 3, 2, 7, 0, tzinfo=UTC), "no offset: the window's zone"
    assert one.end == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    for start, end, message in [
        ("08:00", "08:00", "the same time"),
        ("08:00", "2026-03-02T10:00", "both as times of day"),
        ("2026-03-02T10:00", "2026-03-02T08:00", "must be after start"),
        ("8 Uhr", "10 Uhr", "neither a time of day"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_window(start, end, "UTC")


def test_a_full_configuration_loads() -> None:
    checklist = load(
        [{"id": "a", "title": "A", "probe": {"type": "manual"}, "alert": {"fail_threshold": 2, "window": 3}}],
        schedule={
            "cron": "*/15 8-18 * * 1-5",
            "window": {"start": "08:00", "end": "18:00", "timezone": "Europe/Berlin"},
        },
        alerts={
            "reminder": "2h",
            "silences": [
                {
                    "items": ["a"],
                    "start": "2026-03-02T08:00:00+01:00",
                    "end": "2026-03-02T09:00:00+01:00",
                    "reason": "failover",
                }
            ],
            "maintenance": [{"start": "02:00", "end": "03:00", "timezone": "Europe/Berlin"}],
        },
        rollback={
            "triggers": [
                {
                    "name": "Errors",
                    "description": "5xx",
                    "condition": "up == 0",
                    "prometheus_url": "http://prom:9090/",
                    "for": "5m",
                }
            ]
        },
    )
    assert checklist.item("a").alert.fail_threshold == 2
    assert checklist.schedule is not None and checklist.schedule.zone_name == "Europe/Berlin"
    assert checklist.alerts.reminder == timedelta(hours=2)
    trigger = checklist.rollback.triggers[0]
    assert (trigger.prometheus_url, trigger.hold_for) == ("http://prom:9090", timedelta(minutes=5))


def test_defaults() -> None:
    checklist = load()
    assert (checklist.item("a").alert.fail_threshold, checklist.item("a").alert.window) == (1, 1)
    assert checklist.alerts.reminder == timedelta(hours=4) and checklist.schedule is None


def test_every_problem_is_named_at_load() -> None:
    found = problems_of(
        [{"id": "a", "title": "A", "probe": {"type": "manual"}, "alert": {"fail_threshold": 3, "window": 2}}],
        schedule={"interval": "15m", "cron": "* * * * *"},
        alerts={
            "silences": [
                {
                    "items": ["nope"],
                    "start": "2026-03-02T09:00:00Z",
                    "end": "2026-03-02T08:00:00Z",
                    "reason": "x",
                }
            ],
            "maintenance": [{"start": "02:00", "end": "03:00", "timezone": "Mars/Olympus"}],
        },
        rollback={
            "triggers": [
                {"name": "E", "description": "d", "prometheus_url": "prom:9090"},
                {"name": "E", "description": "d", "for": "soon"},
            ]
        },
    )
    expected = [
        "item a: alert: Value error, fail_threshold (3) cannot exceed window (2)",
        "checklist: schedule: Value error, give exactly one of interval",
        "checklist: alerts.silences.0: Value error, end must be after start",
        "checklist: alerts.maintenance.0: Value error, unknown time zone 'Mars/Olympus'",
        "checklist: rollback.triggers.0.prometheus_url: Value error, write the absolute http",
        "checklist: rollback.triggers.1.for: Value error, 'soon' is not a duration",
        "alerts.silences[0]: items: no item 'nope'",
        "rollback trigger E: name: used twice",
    ]
    for line in expected:
        assert any(found_line.startswith(line) for found_line in found), (line, found)


def test_unquoted_times_and_bad_cron_say_why() -> None:
    text = checklist_yaml([{"id": "a", "title": "A", "probe": {"type": "manual"}}])
    document = yaml.safe_load(text)
    document["schedule"] = {"interval": "15m", "window": {"start": "WINDOW_START", "end": "'18:00'"}}
    # As an editor would write it: 08:00 unquoted, which YAML 1.1 reads in base 60.
    unquoted = yaml.safe_dump(document).replace("WINDOW_START", "20:00").replace("'''18:00'''", "'18:00'")
    assert any("quote times of day" in line for line in problems(unquoted))
    assert any("cron '0 25 * * *'" in line for line in problems_of(schedule={"cron": "0 25 * * *"}))
    assert any(
        "unknown time zone" in line for line in problems_of(schedule={"interval": "1h", "timezone": "CET+1"})
    )
