"""Start a command and read its own wall time and peak resident memory.

Through a small launcher process, not from the benchmark itself: on Linux a child's
maximum RSS (``ru_maxrss``) starts at its parent's when it is forked, so a command
started by a benchmark holding hundreds of MiB (the results of an in-process run, the
libraries it imported) would report the benchmark's memory, not its own. The launcher
holds about 10 MiB, below any command measured here, and times the command from just
before it starts, so its own start-up is not counted either.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
seconds, ended = time.perf_counter() - started, time.time()
with open(sys.argv[1], "w") as out:
    json.dump({"seconds": seconds, "ended": ended, "rss_kib": usage.ru_maxrss}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass(frozen=True)
class Launched:
    seconds: float
    #: When it exited (``time.time()``).
    ended: float
    peak_rss_mib: float
    returncode: int
    stderr: str


def launch(command: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> Launched:
    with tempfile.NamedTemporaryFile("r", suffix=".json") as figures:
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, figures.name, *command],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        measured = json.load(figures)
    # ru_maxrss is in KiB on Linux.
    return Launched(
        measured["seconds"], measured["ended"], measured["rss_kib"] / 1024, done.returncode, done.stderr
    )
