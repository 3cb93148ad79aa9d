"""The README's chart: the bundled checklist against the local staging of the staging
test (tests/test_staging.py), a few runs with the PostgreSQL replica and then Redis down
in between, and the chart golive posts for the phase "P2: Staging-Test".

    .venv/bin/python tools/staging_chart.py [docs/staging-chart.png]

Needs the staging's servers (PostgreSQL, Redis, Prometheus, Alertmanager, docker
registry), like the staging test.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from golive.bot.core.usecases import execute_run  # noqa: E402
from golive.bot.render import charts  # noqa: E402
from golive.checks.loader import load  # noqa: E402
from golive.storage import Store  # noqa: E402
from tests.staging.world import Staging, staging  # noqa: E402

BUNDLED = ROOT / "checklists" / "valeo-neuroerp-1.1.0.yaml"
PHASE = "p2"


def scenario(world: Staging) -> Iterator[Callable[[], AbstractContextManager[object]]]:
    """What each run sees: healthy, the replica stopped, healthy, Redis down, healthy."""
    yield nullcontext
    yield nullcontext
    yield world.replica_stopped
    yield nullcontext
    yield world.redis_down
    yield nullcontext
    yield nullcontext


async def draw(world: Staging) -> charts.Chart:
    checklist = load(BUNDLED, env=world.env)
    store = await Store.open(f"sqlite:///{world.folder / 'golive.db'}")
    try:
        for condition in scenario(world):
            with condition():
                run_id, state = await execute_run(checklist, store, trigger="cli")
            problems = sorted(i for i, r in state.results.items() if r.status in charts.FAILED)
            print(f"run {run_id}: failing or erring {', '.join(problems) or 'nothing'}")
        phase = checklist.phase(PHASE)
        history = await store.chart_history(state.release_id, PHASE)
    finally:
        await store.close()
    chart = charts.phase_chart(checklist, phase, history)
    assert chart is not None
    return chart


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "staging-chart.png"
    with tempfile.TemporaryDirectory() as folder, staging(Path(folder)) as world:
        os.environ.update(world.secrets)
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
        chart = asyncio.run(draw(world))
    output.write_bytes(chart.png)
    print(f"{output}: {chart.alt_text}")


if __name__ == "__main__":
    main()
