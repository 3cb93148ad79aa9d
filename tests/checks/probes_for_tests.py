"""A probe type for engine tests: it sleeps, then observes what it was told to, or raises.

It is a real probe implementation (config model, gather, values) put in a registry the test
builds (the families and this one) and uses for its duration; nothing of the engine
is replaced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from golive.checks.errors import PermanentProbeError, TemporaryProbeError
from golive.checks.probe import (
    Evidence,
    Observation,
    ProbeConfig,
    ProbeContext,
    ProbeRegistry,
    ProbeType,
    Value,
    family_registry,
    using,
)


class SleepConfig(ProbeConfig):
    type: Literal["sleep"] = "sleep"
    seconds: float = 0.0
    value: float = 0.0
    fail_with: str | None = None
    crash: bool = False
    observed_days_ago: float = 0.0
    #: The first this many attempts raise a temporary error (a target that blinks).
    temporary_failures: int = 0


#: Attempts per config object (one item of one run), for the retry tests.
ATTEMPTS: dict[int, int] = {}


async def _gather(config: SleepConfig, context: ProbeContext) -> Observation:
    attempt = ATTEMPTS[id(config)] = ATTEMPTS.get(id(config), 0) + 1
    await asyncio.sleep(config.seconds)
    if attempt <= config.temporary_failures:
        raise TemporaryProbeError(f"blinked on attempt {attempt}")
    if config.fail_with:
        raise PermanentProbeError(config.fail_with)
    if config.crash:
        raise RuntimeError("boom")
    from datetime import timedelta

    at = context.now() - timedelta(days=config.observed_days_ago)
    values = {"VALUE": config.value, "SLEPT": config.seconds, "ATTEMPT": attempt}
    return Observation(values, Evidence("sleep", at))


SLEEP = ProbeType(
    name="sleep",
    summary="test probe",
    config_model=SleepConfig,
    gather=_gather,
    values=(
        Value("VALUE", "a number", "ms"),
        Value("SLEPT", "seconds slept", "s"),
        Value("ATTEMPT", "which attempt observed it"),
    ),
    default_conditions=("[VALUE] < 100",),
    example={"type": "sleep", "seconds": 0.01},
)


def registry_with_sleep() -> ProbeRegistry:
    """The families and the sleep probe, in a registry of the test's own."""
    return ProbeRegistry([*family_registry().types().values(), SLEEP])


@contextmanager
def sleep_probe() -> Iterator[None]:
    ATTEMPTS.clear()  # ids of configs of earlier tests may be reused
    with using(registry_with_sleep()):
        yield


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
