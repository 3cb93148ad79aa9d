"""The rollback watch against a real Prometheus: after GO, a trigger whose PromQL condition
holds for its ``for`` gets one rollback call with the contact plan; one that never holds,
or a Prometheus that does not answer, gets none."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import require_service
from tests.services.prometheus import PrometheusServer, closed_port, prometheus_unavailable_reason

from .watch_support import OPS, T0, minutes, world


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    reason = prometheus_unavailable_reason()
    if reason is not None:
        require_service("Prometheus", reason)
    # Constant expressions need no scrape: the server is usable as soon as it is ready.
    with PrometheusServer(scrape_self=False) as server:
        yield server


async def test_trigger_held_for_its_duration_calls_the_rollback_once(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    with closed_port() as dead:
        triggers = [
            {
                "name": "Fehlerrate",
                "description": "Error-Rate über 5 % für 5 Minuten",
                "condition": "vector(0.07) > 0.05",
                "prometheus_url": prometheus.url,
                "for": "5m",
            },
            {
                "name": "Latenz",
                "description": "P95 über 2 s",
                "condition": "vector(1.2) > 2",
                "prometheus_url": prometheus.url,
            },
            {
                "name": "Unreachable",
                "description": "a Prometheus that does not answer",
                "condition": "vector(1)",
                "prometheus_url": f"http://127.0.0.1:{dead}",
            },
            {"name": "Health", "description": "judged by people, not watched"},
        ]
        rollback = {
            "procedure": ["helm rollback shop 41"],
            "roles": [{"role": "Incident lead", "people": [{"name": "Dana Ops", "slack": OPS}]}],
            "contacts": [{"name": "Vendor hotline", "phone": "+49 30 9999"}],
            "triggers": triggers,
        }
        async with world(tmp_path, rollback=rollback) as w:
            w.at = T0
            assert await w.notifier.check_rollback() == 0, "no GO yet: nothing is watched"
            release = await w.store.release_id("Shop", "2.0.0")
            assert await w.store.alert_state(release, "rollback:Fehlerrate") is None

            await w.reach_go(T0)
            posts = len(w.post_texts())
            for at in (T0 + minutes(1), T0 + minutes(3), T0 + minutes(5)):
                w.at = at
                assert await w.notifier.check_rollback() == 0, at
            pending = await w.store.alert_state(release, "rollback:Fehlerrate")
            assert pending is not None and pending.state == "pending" and pending.since == T0 + minutes(1)

            w.at = T0 + minutes(6)
            assert await w.notifier.check_rollback() == 1
            calls = w.posts("Roll back")
            assert len(calls) == 1 and len(w.post_texts()) == posts + 1
            blocks = json.dumps(calls[0].params["blocks"], ensure_ascii=False)
            for expected in (
                "Fehlerrate",
                "vector(0.07) &gt; 0.05",
                "5m",
                "helm rollback shop 41",
                f"<@{OPS}>",
                "+49 30 9999",
            ):
                assert expected in blocks, expected

            w.at = T0 + minutes(7)
            assert await w.notifier.check_rollback() == 0
            await w.restart()
            w.at = T0 + minutes(8)
            assert await w.notifier.check_rollback() == 0, "a restart calls nothing again"
            assert len(w.posts("Roll back")) == 1
