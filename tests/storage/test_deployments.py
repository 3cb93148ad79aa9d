"""Deploys held until GO: recorded once per delivery, answered once, on both backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from golive.storage import Store

from .helpers import T0

CALLBACK = "https://api.github.com/repos/valeo/shop/actions/runs/{}/deployment_protection_rule"


async def _record(store: Store, release_id: int, delivery: str, run: int = 1) -> bool:
    return await store.record_deployment(
        release_id,
        forge="GitHub",
        delivery_id=delivery,
        repository="valeo/shop",
        environment="production",
        ref="v2.0.0",
        sha="abc1234",
        installation_id=77,
        callback_url=CALLBACK.format(run),
        at=T0 + timedelta(minutes=run),
    )


async def test_a_delivery_is_recorded_once_even_when_delivered_at_once_twice(store: Store) -> None:
    release_id = await store.release_id("Shop", "2.0.0")
    outcomes = await asyncio.gather(*(_record(store, release_id, "d-1") for _ in range(4)))
    assert sorted(outcomes) == [False, False, False, True]
    assert await _record(store, release_id, "d-2", run=2)
    waiting = await store.unanswered_deployments(release_id)
    assert [(d.delivery_id, d.callback_url, d.received_at) for d in waiting] == [
        ("d-1", CALLBACK.format(1), T0 + timedelta(minutes=1)),
        ("d-2", CALLBACK.format(2), T0 + timedelta(minutes=2)),
    ]


async def test_an_answered_deploy_is_no_longer_waiting(store: Store) -> None:
    release_id = await store.release_id("Shop", "2.0.0")
    other = await store.release_id("Shop", "2.1.0")
    await _record(store, release_id, "d-1")
    await _record(store, other, "d-2", run=2)
    [first] = await store.unanswered_deployments(release_id)
    await store.answer_deployment(
        first.id, state="approved", comment="GO on run #3", at=T0 + timedelta(hours=1)
    )
    assert await store.unanswered_deployments(release_id) == []
    assert [d.delivery_id for d in await store.unanswered_deployments()] == ["d-2"]
    [answered] = await store.deployments(release_id)
    assert (answered.state, answered.comment, answered.answered_at) == (
        "approved",
        "GO on run #3",
        T0 + timedelta(hours=1),
    )
