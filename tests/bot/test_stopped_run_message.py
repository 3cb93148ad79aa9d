"""A run taken for dead keeps the message its successor wrote.

A replica paused past its lease may have a progress edit already on its way to Slack
when it stops; it reaches Slack when the process wakes, after the new leader has marked
the run aborted and edited its message to "Stopped". The woken process must put that
message back, not leave it reading "1 of 2 items decided" forever."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from golive.bot.core.publish import close_orphaned_message, publish_run
from golive.storage import RunAborted

from .slack_support import CHANNEL, harness


async def _until(what: str, check: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("probe_returns", ["before", "after", "long before"])
async def test_a_progress_edit_landing_after_the_takeover_is_undone(
    tmp_path: Path, probe_returns: str
) -> None:
    """``before``: the woken run's probe answers as the held edit lands (its result is
    refused, the run ends with RunAborted); ``after``: the probe is still running when the
    edit lands, and the run's next step notices it was taken over; ``long before``: the
    run has ended (RunAborted) while its edit is still on the way, and the edit lands
    only then: the run's last word must come after it."""
    async with harness(tmp_path) as h:
        h.target.delay = {"before": 0.6, "after": 3.0, "long before": 0.2}[probe_returns]
        # The manual item is decided at once: its progress edit is the one held on the way.
        h.slack.fail_next_with("chat.update", "1 of 2", "held")
        publishing = publish_run(
            h.bot.checklist, h.store, h.bot.surface, CHANNEL, trigger="schedule", edit_interval=0.01
        )
        running = asyncio.create_task(publishing)
        await _until("the progress edit sent", lambda: h.slack.holding == 1)
        release = await h.store.release_id("Shop", "2.0.0")
        [run] = await h.store.runs(release)
        assert run.message_ts is not None

        # Another replica takes the run for dead: aborts it and says so in its message.
        assert await h.store.abort_runs([run.id], at=datetime.now(UTC)) == [run.id]
        stopped = await h.store.run(run.id)
        assert stopped is not None
        await close_orphaned_message(h.bot.checklist, h.bot.surface, stopped)
        final = h.slack.messages(CHANNEL)[run.message_ts]
        assert "Stopped" in final.text
        expected = final.text

        if probe_returns == "long before":
            # The probe answered long ago: its result was refused and the run is ending.
            await asyncio.sleep(1.5)
        h.slack.released.set()  # the woken process's edit lands after it
        with pytest.raises(RunAborted):
            await asyncio.wait_for(running, 20)
        await _until(
            "the stopped message put back", lambda: h.slack.messages(CHANNEL)[run.message_ts].text == expected
        )
        last = [c for c in h.slack.ok_calls("chat.update") if c.params.get("ts") == run.message_ts][-1]
        assert last.params["text"] == expected
        # Said once in the thread, by the replica that took over; the repair only edits.
        assert h.slack.messages(CHANNEL)[run.message_ts].thread == final.thread
        assert len(final.thread) == 1
