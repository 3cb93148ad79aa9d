"""A probe type for engine tests: it sleeps, then observes what it was told to, or raises.

It is a real probe implementation (config model, gather, values) registered in the one
registry for the duration of a test, the way a plugin would be; nothing of the engine
is replaced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from golive.checks.errors import ProbeError
from golive.checks.probe import REGISTRY, Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value


class SleepConfig(ProbeConfig):
    type: Literal["sleep"] = "sleep"
    seconds: float = 0.0
    value: float = 0.0
    fail_with: str | None = None
    crash: bool = False
    observed_days_ago: float = 0.0


async def _gather(config: SleepConfig, context: ProbeContext) -> Observation:
    await asyncio.sleep(config.seconds)
    if config.fail_with:
        raise ProbeError(config.fail_with)
    if config.crash:
        raise RuntimeError("boom")
    from datetime import timedelta

    at = context.now() - timedelta(days=config.observed_days_ago)
    return Observation({"VALUE": config.value, "SLEPT": config.seconds}, Evidence("sleep", at))


SLEEP = ProbeType(
    name="sleep",
    summary="test probe",
    config_model=SleepConfig,
    gather=_gather,
    values=(Value("VALUE", "a number", "ms"), Value("SLEPT", "seconds slept", "s")),
    default_conditions=("[VALUE] < 100",),
    example={"type": "sleep", "seconds": 0.01},
)


@contextmanager
def sleep_probe() -> Iterator[None]:
    from golive.checks.probe import all_probe_types

    all_probe_types()  # register the real families first
    REGISTRY["sleep"] = SLEEP
    try:
        yield
    finally:
        del REGISTRY["sleep"]


def checklist_yaml(items: list[dict[str, Any]], **top: Any) -> str:
    import yaml

    document: dict[str, Any] = {
        "release": {"name": "Demo", "version": "1.0.0"},
        "signoffs": [{"id": "devops", "title": "DevOps-Team", "approvers": {"users": ["U0001"]}}],
        "phases": [
            {
                "id": "p1",
                "title": "Phase 1",
                "owner": "devops",
                "sections": [{"id": "s1", "title": "Section 1", "items": items}],
            }
        ],
    }
    document.update(top)
    return yaml.safe_dump(document, allow_unicode=True)
