"""The command line starts quickly and small: each command beside a bare interpreter.

Times `golive --help`, `golive validate`, `golive status` and `golive report` on the
bundled checklist, with a SQLite database holding a few runs of it, as the median wall
time of N starts of each, and their peak resident memory (each command's own, read by a
small launcher: see bench/launch.py). The baseline is `python -c pass` with the same interpreter, started in
turn with the commands (one round: the baseline, then each command), so a machine busy
with other work slows both alike. Targets: `--help` within 10x the baseline, the others
within 20x, each under 100 MiB. One more line imports only the libraries `status` and
`report` cannot do without: what of their time is not golive's own.

    .venv/bin/python bench/startup.py [--repeat 7] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.launch import launch  # noqa: E402

CHECKLIST = ROOT / "checklists" / "valeo-neuroerp-1.1.0.yaml"


#: The libraries `golive status` and `report` need whatever golive does: the command
#: line, the SQLite driver its snapshot reads through, the checklist's models and YAML,
#: the terminal output, asyncio (the use cases are coroutines).
LIBRARIES = "import typer, sqlite3, asyncio, pydantic, yaml, rich.console"


@dataclass(frozen=True)
class Start:
    seconds: float
    peak_rss_mib: float


@dataclass(frozen=True)
class Figure:
    name: str
    wall_s: float
    peak_rss_mib: float
    baseline_s: float
    baseline_rss_mib: float

    @property
    def ratio(self) -> float:
        return self.wall_s / self.baseline_s


def golive() -> list[str]:
    """The installed `golive` script beside this interpreter, else `python -m golive`."""
    script = Path(sys.executable).with_name("golive")
    return [str(script)] if script.exists() else [sys.executable, "-m", "golive"]


def environment(folder: Path) -> dict[str, str]:
    """This process's environment without golive's variables: the runs and the commands
    read only what this bench passes."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("GOLIVE_", "SLACK_"))}
    env["HOME"] = str(folder)
    # An installed golive starts from compiled bytecode (pip compiles at install; the
    # first round below writes it for a checkout): without this, a checkout under
    # PYTHONDONTWRITEBYTECODE would compile every module at every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def start(command: Sequence[str], env: dict[str, str]) -> Start:
    """One start of ``command``: its wall time and its peak resident memory."""
    done = launch(command, env)
    # validate exits 0, status and report 0 as well; a failing command is no figure.
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr}")
    return Start(done.seconds, done.peak_rss_mib)


def store_runs(db_url: str, runs: int, env: dict[str, str]) -> None:
    """``runs`` real runs of the bundled checklist (its variables unset: the items that
    need them are ERROR, the rest probe what they find), as `golive run` stores them."""
    for _ in range(runs):
        subprocess.run(
            [*golive(), "run", "--checklist", str(CHECKLIST), "--db", db_url, "--format", "json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,  # a NO-GO exits 1; the run is stored all the same
            timeout=600,
        )


def measure(repeat: int = 7, runs: int = 3) -> list[Figure]:
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        env = environment(folder)
        db_url = f"sqlite:///{folder}/golive.db"
        store_runs(db_url, runs, env)
        commands = {
            "golive --help": [*golive(), "--help"],
            "golive validate": [*golive(), "validate", "--checklist", str(CHECKLIST)],
            "golive status": [*golive(), "status", "--db", db_url],
            "golive report": [*golive(), "report", "--db", db_url],
            # What status and report cannot do without, imported and nothing else: the
            # part of their time that is not golive's own.
            "their libraries alone": [sys.executable, "-c", LIBRARIES],
        }
        baseline_command = [sys.executable, "-c", "pass"]
        baseline: list[Start] = []
        starts: dict[str, list[Start]] = {name: [] for name in commands}
        for command in commands.values():  # warm the file cache: the first start reads every file
            start(command, env)
        for _ in range(repeat):
            baseline.append(start(baseline_command, env))
            for name, command in commands.items():
                starts[name].append(start(command, env))
    base_s = statistics.median(s.seconds for s in baseline)
    base_rss = max(s.peak_rss_mib for s in baseline)
    return [
        Figure(
            name,
            statistics.median(s.seconds for s in measured),
            max(s.peak_rss_mib for s in measured),
            base_s,
            base_rss,
        )
        for name, measured in starts.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="starts of each command (median)")
    parser.add_argument("--runs", type=int, default=3, help="runs stored before status and report")
    args = parser.parse_args()
    figures = measure(args.repeat, args.runs)
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    base = figures[0]
    print(f"python -c pass        {base.baseline_s * 1000:6.0f} ms {base.baseline_rss_mib:5.0f} MiB")
    for figure in figures:
        print(
            f"{figure.name:<21} {figure.wall_s * 1000:6.0f} ms {figure.peak_rss_mib:5.0f} MiB"
            f"   {figure.ratio:5.1f}x the bare interpreter"
        )


if __name__ == "__main__":
    main()
