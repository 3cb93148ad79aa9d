"""A run's live display on a terminal, driven by its results on a clock the test moves."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import yaml
from rich.console import Console

from golive.bot.console import RunProgress
from golive.checks.loader import loads
from golive.checks.model import Checklist
from golive.checks.results import ItemResult
from golive.checks.status import Status

NOW = datetime(2026, 12, 7, 3, tzinfo=UTC)


def checklist() -> Checklist:
    def http(item_id: str, **extra: object) -> dict[str, object]:
        return {
            "id": item_id,
            "title": item_id.title(),
            "probe": {"type": "http", "url": "http://127.0.0.1:9/"},
            **extra,
        }

    document = {
        "release": {"name": "Shop", "version": "2.0.0"},
        "signoffs": [{"id": "devops", "title": "DevOps", "approvers": {"users": ["U0001"]}}],
        "phases": [
            {
                "id": "p1",
                "title": "P1: [Staging]",
                "owner": "devops",
                "sections": [
                    {
                        "id": "s1",
                        "title": "S1",
                        "items": [
                            http("deploy"),
                            http("smoke", depends_on=["deploy"]),
                            {"id": "runbook", "title": "Runbook", "probe": {"type": "manual"}},
                        ],
                    }
                ],
            },
            {
                "id": "p2",
                "title": "P2",
                "owner": "devops",
                "sections": [{"id": "s2", "title": "S2", "items": [http("metrics")]}],
            },
        ],
    }
    return loads(yaml.safe_dump(document), env={})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def result(item_id: str) -> ItemResult:
    return ItemResult(item_id, Status.PASS, Status.PASS, "fine", 1.0, NOW)


def drawn(progress: RunProgress) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None, force_terminal=False)
    console.print(progress)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


def test_the_display_counts_per_phase_and_names_the_slowest_probe_still_running() -> None:
    clock = Clock()
    progress = RunProgress(checklist(), None, Console(file=io.StringIO()), clock=clock)
    progress.decided(result("runbook"))  # manual: decided at once
    clock.now += 2.0
    screen = drawn(progress)
    assert "1/4" in screen and "1/3" in screen and "0/1" in screen  # all, P1, P2
    assert "P1: [Staging]" in screen  # a title with brackets is shown, not read as markup
    # smoke waits for deploy; of deploy and metrics, running as long, the first in order.
    assert "2.0 s elapsed · slowest still running: deploy (Deploy) for 2.0 s and 1 more" in screen

    progress.decided(result("deploy"))
    clock.now += 3.0
    progress.decided(result("metrics"))
    screen = drawn(progress)
    # smoke started when deploy was decided, 3 s ago; nothing else runs.
    assert "5.0 s elapsed · slowest still running: smoke (Smoke) for 3.0 s\n" in screen
    assert "3/4" in screen and "2/3" in screen and "1/1" in screen

    progress.decided(result("smoke"))
    progress.decided(result("smoke"))  # counted once
    progress.decided(result("elsewhere"))  # not of this run's selection
    screen = drawn(progress)
    assert "4/4" in screen and "slowest" not in screen and "every item decided" in screen


def test_a_phase_run_counts_only_its_phase() -> None:
    clock = Clock()
    progress = RunProgress(checklist(), "p2", Console(file=io.StringIO()), clock=clock)
    clock.now += 1.0
    screen = drawn(progress)
    assert "0/1" in screen and "P1" not in screen
    assert "slowest still running: metrics (Metrics) for 1.0 s" in screen
