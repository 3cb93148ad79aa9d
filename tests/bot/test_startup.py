"""Each command imports only what it uses, so the command line starts quickly and small.

The real CLI runs in a subprocess (a fresh interpreter, as `golive` starts) and writes
the modules it imported when it exits; each command must not have imported the heavy
libraries it has no use for. A top-level import of one of them anywhere on a command's
path (the Slack app, the HTTP server, matplotlib, a probe client, Alembic) fails here.
`bench/startup.py` measures what this buys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from golive.bot import cli
from golive.settings import DEFAULT_DB_URL, variable

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "checklists" / "valeo-neuroerp-1.1.0.yaml"

#: Runs the CLI's main as `golive` does, then writes sys.modules to $MODULES_FILE.
WRAPPER = """
import atexit, json, os, sys

def written():
    with open(os.environ["MODULES_FILE"], "w") as out:
        # A None entry is a module marked as not importable, not one imported.
        json.dump(sorted(name for name, module in sys.modules.items() if module is not None), out)

atexit.register(written)
sys.argv[0] = "golive"
from golive.bot.cli import main
main()
"""

#: The HTTP server is aiohttp's web module; aiohttp's client is the http probes'.
SERVING = ["slack_bolt", "slack_sdk", "aiohttp.web", "apscheduler"]
DRAWING = ["matplotlib", "numpy", "PIL"]
PROBE_CLIENTS = ["kubernetes", "redis", "psycopg", "cryptography", "aiohttp"]
#: httpx's own command-line client and what only it needs: imported with httpx unless
#: golive (its package's __init__) keeps it out.
HTTPX_CLI = ["httpx._main", "pygments"]

NOT_FOR_HELP = [
    *SERVING,
    *DRAWING,
    *PROBE_CLIENTS,
    "alembic",
    "sqlalchemy",
    "httpx",
    "pydantic",
    "pydantic_settings",
    "yaml",
    "structlog",
    "prometheus_client",
    "golive.checks.families",
    "golive.storage",
]
NOT_FOR_VALIDATE = [
    *SERVING,
    *HTTPX_CLI,
    *DRAWING,
    *PROBE_CLIENTS,
    "alembic",
    "sqlalchemy",
    "pydantic_settings",
    "structlog",
    "prometheus_client",
    "golive.storage",
]
#: status and report read a snapshot of an up-to-date database (golive.storage.snapshot):
#: not the Store's SQLAlchemy, and of the probe families only those deciding derived and
#: manual items (the others' probe parameters are not bound for showing).
NOT_FOR_STATE = [
    *SERVING,
    *DRAWING,
    *PROBE_CLIENTS,
    *HTTPX_CLI,
    "alembic",
    "sqlalchemy",
    "aiosqlite",
    "golive.storage.store",
    "httpx",
    "pydantic_settings",
    "structlog",
    *(f"golive.checks.families.{name}" for name in ("http", "prometheus", "kubernetes", "redis", "k6")),
]


def imported(args: Iterable[str], tmp_path: Path, exits: tuple[int, ...] = (0, 1)) -> list[str]:
    """The modules `golive ARGS` imported, in a fresh interpreter."""
    modules = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_"))}
    env.update(MODULES_FILE=str(modules), HOME=str(tmp_path))
    command = [sys.executable, "-c", WRAPPER, *args]
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode in exits, done.stderr  # 1: a NO-GO run
    loaded: list[str] = json.loads(modules.read_text())
    return loaded


def among(modules: list[str], packages: Iterable[str]) -> list[str]:
    """The packages of ``packages`` that ``modules`` holds (a package or any of its modules)."""
    return [p for p in packages if any(m == p or m.startswith(p + ".") for m in modules)]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database at the newest revision holding two runs of a small checklist."""
    folder = tmp_path_factory.mktemp("startup")
    checklist = folder / "checklist.yaml"
    checklist.write_text(
        yaml.safe_dump(
            {
                "release": {"name": "Shop", "version": "2.0.0"},
                "phases": [
                    {
                        "id": "p1",
                        "title": "P1",
                        "sections": [
                            {
                                "id": "s1",
                                "title": "S1",
                                "items": [{"id": "runbook", "title": "Runbook", "probe": {"type": "manual"}}],
                            }
                        ],
                    }
                ],
            }
        )
    )
    url = f"sqlite:///{folder}/golive.db"
    for _ in range(2):
        imported(["run", "--checklist", str(checklist), "--db", url, "--format", "json"], folder)
    return url


def test_help_imports_no_command_s_libraries(tmp_path: Path) -> None:
    assert among(imported(["--help"], tmp_path), NOT_FOR_HELP) == []


def test_validate_imports_neither_storage_nor_serving_nor_drawing_nor_probe_clients(tmp_path: Path) -> None:
    modules = imported(["validate", "--checklist", str(BUNDLED)], tmp_path)
    assert "golive.checks.loader" in modules  # it did validate
    assert "httpx" in modules  # the bundled checklist's URL probes' configuration
    assert among(modules, NOT_FOR_VALIDATE) == []


@pytest.mark.parametrize("command", ["status", "report"])
def test_status_and_report_read_an_up_to_date_database_without_alembic(
    command: str, database: str, tmp_path: Path
) -> None:
    modules = imported([command, "--db", database], tmp_path)
    assert "golive.storage.snapshot" in modules  # it did read the database
    assert among(modules, NOT_FOR_STATE) == []


@pytest.mark.parametrize("command", ["status", "report"])
def test_status_of_the_bundled_checklist_imports_only_the_families_it_decides_with(
    command: str, tmp_path: Path
) -> None:
    """A stored checklist of every kind of probe: shown without importing the families of
    its automated items (nor their clients)."""
    url = f"sqlite:///{tmp_path}/bundled.db"
    imported(["run", "--checklist", str(BUNDLED), "--db", url, "--format", "json"], tmp_path)
    modules = imported([command, "--db", url], tmp_path)
    families = sorted(m for m in modules if m.startswith("golive.checks.families."))
    assert families == ["golive.checks.families.derived", "golive.checks.families.manual"]
    assert among(modules, NOT_FOR_STATE) == []


def test_a_new_database_is_migrated_with_alembic(tmp_path: Path) -> None:
    """The other side of the above: a database behind the newest revision gets Alembic
    (and the check above is one that can see an import)."""
    # Exit 2: a new database holds no run to show.
    modules = imported(["status", "--db", f"sqlite:///{tmp_path}/new.db"], tmp_path, exits=(2,))
    assert among(modules, ["alembic", "golive.storage.store"]) == ["alembic", "golive.storage.store"]


def test_a_text_run_draws_its_charts_in_the_worker_only(tmp_path: Path) -> None:
    """`golive run` writes the charts, drawn in the chart worker: this process never
    imports matplotlib."""
    charts = tmp_path / "charts"
    modules = imported(
        ["run", "--checklist", str(BUNDLED), "--db", f"sqlite:///{tmp_path}/run.db", "--charts", str(charts)],
        tmp_path,
    )
    assert list(charts.glob("*.png"))
    assert among(modules, [*SERVING, *DRAWING]) == []


def test_the_options_name_the_variables_the_settings_read() -> None:
    """The CLI names its options' variables itself (reading golive.settings would load
    pydantic-settings for `--help`): they are the settings' own."""
    assert variable("checklist") == cli.CHECKLIST_VARIABLE
    assert variable("db_url") == cli.DB_URL_VARIABLE
    assert variable("api_token") == cli.API_TOKEN_VARIABLE
    assert DEFAULT_DB_URL == cli.DEFAULT_DB_URL
