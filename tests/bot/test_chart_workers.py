"""The chart workers end with the process that started them, however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

#: Starts the chart workers, prints their process ids, then waits to be killed.
STARTER = """
import os, sys, time
from golive.bot.core.publish import chart_pool, start_chart_worker
start_chart_worker(2)
pool = chart_pool()
pids = {pool.submit(os.getpid).result(timeout=60) for _ in range(20)}
print(" ".join(map(str, sorted(pids))), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie counts as gone: it has exited, only its exit status is left to collect.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_workers_exit_when_their_process_is_killed_outright() -> None:
    """SIGKILL (the OOM killer's way) leaves the process no chance to stop its workers:
    they notice it is gone and exit, instead of waiting for work for ever."""
    starter = subprocess.Popen([sys.executable, "-c", STARTER], stdout=subprocess.PIPE, text=True)
    try:
        assert starter.stdout is not None
        workers = [int(pid) for pid in starter.stdout.readline().split()]
        assert workers and all(alive(pid) for pid in workers)
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in workers if alive(pid)] == []
