"""The outbox on every backend: messages kept in order until posted, taken by one
process at a time, and a lease that ends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from golive.storage import Store

from .helpers import T0

LEASE = timedelta(seconds=45)
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "Ümlaut *ok*"}}]


async def test_messages_are_kept_in_order_until_posted(store: Store) -> None:
    release = await store.release_id("r", "1")
    first, second = await store.add_outbox(
        release, "alert:a alert:b", "C1", [("one", BLOCKS), ("two", [])], at=T0, lease=LEASE
    )
    assert (first.part, second.part) == (0, 1)
    assert first.token != second.token
    assert first.blocks == BLOCKS and first.created_at == T0 and first.attempts == 0
    [later] = await store.add_outbox(release, "go:0", "C1", [("three", [])], at=T0, lease=LEASE)
    assert [e.text for e in await store.pending_outbox(release)] == ["one", "two", "three"]
    assert await store.pending_outbox(await store.release_id("r", "2")) == []

    assert await store.outbox_attempted(first, now=T0, lease=LEASE)
    assert await store.outbox_attempted(first, now=T0, lease=LEASE)
    [kept, *_] = await store.pending_outbox(release)
    assert kept.attempts == 2
    await store.outbox_posted(first.id, "1700000000.000100")
    pending = await store.pending_outbox(release)
    assert [e.id for e in pending] == [second.id, later.id]
    await store.drop_outbox([second.id])
    assert [e.id for e in await store.pending_outbox(release)] == [later.id]


async def test_a_message_is_taken_by_one_process_until_its_lease_ends(store: Store) -> None:
    release = await store.release_id("r", "1")
    [entry] = await store.add_outbox(release, "go:0", "C1", [("go", [])], at=T0, lease=LEASE)
    assert await store.take_outbox(entry.id, now=T0 + timedelta(seconds=1), lease=LEASE) is None, (
        "the adder's"
    )
    after = T0 + LEASE
    taken = await asyncio.gather(*(store.take_outbox(entry.id, now=after, lease=LEASE) for _ in range(4)))
    [successor] = [t for t in taken if t is not None]
    assert not await store.outbox_attempted(entry, now=after, lease=LEASE), "the first holder lost it"
    assert await store.take_outbox(entry.id, now=after + timedelta(seconds=1), lease=LEASE) is None
    await store.outbox_unlease(entry)  # not the holder any more: changes nothing
    assert await store.take_outbox(entry.id, now=after + timedelta(seconds=1), lease=LEASE) is None
    assert await store.outbox_attempted(successor, now=after, lease=LEASE)
    await store.outbox_unlease(successor)
    again = await store.take_outbox(entry.id, now=after + timedelta(seconds=2), lease=LEASE)
    assert again is not None and again.token == entry.token and again.attempts == 1
    await store.outbox_posted(entry.id, "1700000000.000200")
    assert await store.take_outbox(entry.id, now=after + 10 * LEASE, lease=LEASE) is None, "posted"
