"""The command line, end to end: real checklist files, a real HTTP target, a real SQLite
database, the real CLI code (typer's runner in-process, and one subprocess)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import re
import select
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from golive.bot.cli import app

from .slack_support import Target, _Handler

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "checklists" / "valeo-neuroerp-1.1.0.yaml"


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def small_checklist(tmp_path: Path, target: Target) -> Path:
    document = {
        "release": {"name": "Shop", "version": "2.0.0", "language": "de"},
        "signoffs": [
            {"id": "devops", "title": "DevOps-Team", "approvers": {"users": ["U0DEVOPS"]}},
            {"id": "ops", "title": "Operations", "approvers": {"users": ["U00OPS"]}},
        ],
        "rollback": {
            "procedure_url": "https://wiki.example/rollback",
            "triggers": [{"name": "Errors", "description": "5xx > 5 %"}],
        },
        "phases": [
            {
                "id": "p1",
                "title": "P1: Staging",
                "owner": "devops",
                "sections": [
                    {
                        "id": "p1-deploy",
                        "title": "Deployment",
                        "items": [
                            {
                                "id": "health",
                                "title": "Health-Checks erfolgreich",
                                "probe": {
                                    "type": "http",
                                    "url": f"http://127.0.0.1:{target.server_address[1]}/health",
                                },
                                "conditions": ["[STATUS] == 200", "[BODY].status == UP"],
                            },
                            {
                                "id": "runbook",
                                "title": "Runbook erstellt",
                                "owner": "ops",
                                "probe": {"type": "manual"},
                            },
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "checklist.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return path


def cli(*args: str, db: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--db", f"sqlite:///{db}"], env=env)
    return result.exit_code, result.output


def test_validate_ok_and_invalid(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "--checklist", str(BUNDLED)], env={})
    assert result.exit_code == 0, result.output
    assert "65 items" in result.output and "4 sign-off roles" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        BUNDLED.read_text().replace("type: k6", "type: k7", 1).replace("owner: devops", "owner: nobody", 1)
    )
    result = CliRunner().invoke(app, ["validate", "--checklist", str(broken)], env={})
    assert result.exit_code == 2
    assert "item k6-run: probe.type: unknown probe type 'k7'" in result.output
    assert "owner: 'nobody' is not a sign-off role" in result.output


def test_fresh_run_of_the_bundled_checklist_is_an_honest_no_go(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "golive.bot.cli",
            "run",
            "--checklist",
            str(BUNDLED),
            "--format",
            "json",
            "--db",
            f"sqlite:///{tmp_path / 'golive.db'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    document = json.loads(completed.stdout)
    items = document["items"]
    checks = [i for i in items if i["kind"] != "signoff"]
    signoffs = [i for i in items if i["kind"] == "signoff"]
    assert len(checks) == 65 and len(signoffs) == 4
    assert document["release"] == {"name": "VALEO-NeuroERP", "version": "1.1.0"}
    assert document["verdict"]["decision"] == "NO-GO" and not document["verdict"]["go"]
    by_id = {i["id"]: i for i in items}
    assert by_id["health-checks"]["status"] == "ERROR"
    assert by_id["health-checks"]["message"] == "not configured: set GOLIVE_HEALTH_URL"
    assert by_id["runbook"]["status"] == "PENDING" and by_id["runbook"]["kind"] == "manual"
    assert by_id["rollback-triggers"]["status"] == "PASS"
    assert by_id["team-roles"]["status"] == "FAIL"
    assert {s["status"] for s in signoffs} == {"PENDING"}
    blockers = {b["subject"] for b in document["verdict"]["blockers"]}
    assert {"health-checks", "runbook", "signoff:devops", "signoff:operations"} <= blockers
    for item in items:
        assert {"id", "phase", "title", "kind", "status", "duration_ms", "message", "observed"} <= set(item)


def test_the_whole_way_to_go_and_back(small_checklist: Path, tmp_path: Path, target: Target) -> None:
    db = tmp_path / "golive.db"
    code, output = cli("run", "--checklist", str(small_checklist), db=db)
    assert code == 0, output  # the only automated item passes
    assert "NO-GO" in output

    code, output = cli("signoff", "devops", "--by", "U0INTRUDER", "--checklist", str(small_checklist), db=db)
    assert code == 2 and "ist kein Freigebender von DevOps-Team" in output  # the checklist is German

    code, output = cli("confirm", "runbook", "--by", "U00OPS", "--checklist", str(small_checklist), db=db)
    assert code == 2 and "--evidence" in output
    code, output = cli(
        "confirm",
        "runbook",
        "--by",
        "U00OPS",
        "--evidence",
        "https://wiki.example/runbook",
        "--checklist",
        str(small_checklist),
        db=db,
    )
    assert code == 0, output
    code, output = cli("run", "--checklist", str(small_checklist), db=db)
    assert code == 0
    for role, user in (("devops", "U0DEVOPS"), ("ops", "U00OPS")):
        code, output = cli("signoff", role, "--by", user, "--checklist", str(small_checklist), db=db)
        assert code == 0, output
    code, output = cli("signoff", "devops", "--by", "U0DEVOPS", "--checklist", str(small_checklist), db=db)
    assert code == 2 and "ist bereits abgezeichnet von U0DEVOPS" in output

    code, output = cli(
        "note", "Freigabe im CAB besprochen", "--by", "U00OPS", "--checklist", str(small_checklist), db=db
    )
    assert code == 0
    code, output = cli("status", "--format", "json", "--checklist", str(small_checklist), db=db)
    status = json.loads(output)
    assert status["verdict"]["decision"] == "GO", status["verdict"]
    devops = next(i for i in status["items"] if i["kind"] == "signoff" and i["id"] == "devops")
    assert devops["signed_by"] == "U0DEVOPS" and devops["holds"] and devops["run_id"] == status["run_id"]

    code, report = cli("report", "--checklist", str(small_checklist), db=db)
    assert code == 0
    assert "# Pre-GoLive Checkliste - Shop v2.0.0" in report
    assert "- [x] Health-Checks erfolgreich" in report
    assert "- [x] Runbook erstellt" in report and "https://wiki.example/runbook" in report
    assert "- [x] DevOps-Team: U0DEVOPS Datum:" in report
    assert "Freigabe im CAB besprochen" in report
    assert "Entscheidung: **GO**" in report

    target.status = 503  # the health check regresses after devops signed
    code, output = cli("run", "--checklist", str(small_checklist), "--format", "json", db=db)
    assert code == 1
    after = json.loads(output)
    assert after["verdict"]["decision"] == "NO-GO"
    health = next(i for i in after["items"] if i["id"] == "health")
    assert health["status"] == "FAIL" and "[STATUS] = 503, limit == 200" in health["message"]
    devops = next(i for i in after["items"] if i["kind"] == "signoff" and i["id"] == "devops")
    ops = next(i for i in after["items"] if i["kind"] == "signoff" and i["id"] == "ops")
    assert not devops["holds"] and "health (PASS → FAIL)" in devops["message"]
    assert ops["holds"]  # ops owns only the runbook, which did not regress


def test_waiver_turns_a_failure_into_waived(small_checklist: Path, tmp_path: Path, target: Target) -> None:
    db = tmp_path / "golive.db"
    target.status = 500
    assert cli("run", "--checklist", str(small_checklist), db=db)[0] == 1
    code, output = cli(
        "waive",
        "health",
        "--days",
        "2",
        "--reason",
        "INC-42 known",
        "--by",
        "U0DEVOPS",
        "--checklist",
        str(small_checklist),
        db=db,
    )
    assert code == 0, output
    code, output = cli("status", "--format", "json", "--checklist", str(small_checklist), db=db)
    health = next(i for i in json.loads(output)["items"] if i["id"] == "health")
    assert health["status"] == "WAIVED" and health["raw_status"] == "FAIL" and "INC-42" in health["message"]


def test_usage_errors_exit_2(small_checklist: Path, tmp_path: Path) -> None:
    db = tmp_path / "golive.db"
    code, output = cli("run", "--checklist", str(small_checklist), "--phase", "nope", db=db)
    assert code == 2 and "no phase 'nope'" in output
    code, output = cli("run", db=db, env={"GOLIVE_CHECKLIST": ""})
    assert code == 2 and "--checklist" in output
    code, output = cli(
        "confirm",
        "health",
        "--by",
        "U0DEVOPS",
        "--evidence",
        "https://x.example",
        "--checklist",
        str(small_checklist),
        db=db,
    )
    # The checklist speaks German: so do its refusals, on the CLI as in Slack.
    assert code == 2 and "bestätigt werden nur manuelle Punkte" in output


def _with_phase_two(checklist: Path, port: int) -> None:
    """Adds a second phase with one http item, ``smoke``."""
    document = yaml.safe_load(checklist.read_text())
    document["phases"].append(
        {
            "id": "p2",
            "title": "P2: Production",
            "owner": "devops",
            "sections": [
                {
                    "id": "p2-smoke",
                    "title": "Smoke",
                    "items": [
                        {
                            "id": "smoke",
                            "title": "Smoke-Test",
                            "probe": {"type": "http", "url": f"http://127.0.0.1:{port}/smoke"},
                            "conditions": ["[STATUS] == 200"],
                        }
                    ],
                }
            ],
        }
    )
    checklist.write_text(yaml.safe_dump(document, allow_unicode=True))


def test_a_phase_run_says_which_results_came_from_earlier_runs(
    small_checklist: Path, tmp_path: Path, target: Target
) -> None:
    db = tmp_path / "golive.db"
    _with_phase_two(small_checklist, target.server_address[1])
    code, output = cli("run", "--checklist", str(small_checklist), "--format", "json", db=db)
    assert code == 0, output
    full = json.loads(output)
    assert full["results"] == {"this_run": ["health", "smoke"], "earlier_runs": {}}

    target.status = 503
    code, output = cli("run", "--checklist", str(small_checklist), "--phase", "p2", "--format", "json", db=db)
    phase_run = json.loads(output)
    assert code == 1  # smoke, in this phase, now fails
    assert phase_run["run_id"] == full["run_id"] + 1
    assert phase_run["results"] == {"this_run": ["smoke"], "earlier_runs": {"health": full["run_id"]}}
    by_id = {item["id"]: item for item in phase_run["items"]}
    assert by_id["health"]["status"] == "PASS" and by_id["health"]["run_id"] == full["run_id"]
    assert by_id["smoke"]["status"] == "FAIL" and by_id["smoke"]["run_id"] == phase_run["run_id"]
    assert by_id["runbook"]["run_id"] is None  # manual: decided from confirmations, not by a run


def test_status_report_and_diff_from_the_database_alone(
    small_checklist: Path, tmp_path: Path, target: Target
) -> None:
    db = tmp_path / "golive.db"
    no_file = {"GOLIVE_CHECKLIST": ""}
    code, output = cli("status", db=db, env=no_file)
    assert code == 2 and "run the checklist first, or pass --checklist FILE" in output

    digest = hashlib.sha256(small_checklist.read_bytes()).hexdigest()
    assert cli("run", "--checklist", str(small_checklist), "--format", "json", db=db)[0] == 0
    target.status = 503
    code, output = cli("run", "--checklist", str(small_checklist), "--format", "json", db=db)
    assert code == 1
    second = json.loads(output)["run_id"]
    small_checklist.unlink()  # from here on, only the database knows the checklist

    code, output = cli("status", "--format", "json", db=db, env=no_file)
    assert code == 0, output
    status = json.loads(output)
    assert status["run_id"] == second and status["checklist"] == {"digest": digest}
    assert status["release"] == {"name": "Shop", "version": "2.0.0"}
    assert {i["id"]: i["status"] for i in status["items"] if i["kind"] != "signoff"} == {
        "health": "FAIL",
        "runbook": "PENDING",
    }
    code, output = cli("status", db=db, env=no_file)
    assert code == 0 and "health" in output and "NO-GO" in output

    code, report = cli("report", db=db, env=no_file)
    assert code == 0, report
    assert "# Pre-GoLive Checkliste - Shop v2.0.0" in report
    assert f"sha256 `{digest}`" in report
    assert "- [ ] Health-Checks erfolgreich — **FAIL**" in report

    code, output = cli("diff", str(second - 1), str(second), db=db, env=no_file)
    assert code == 0, output
    assert "health" in output and "PASS" in output and "FAIL" in output
    code, output = cli("diff", "1", "99", db=db, env=no_file)
    assert code == 2 and "no run #99" in output


def test_a_run_on_a_changed_checklist_names_the_items_added_and_removed(
    small_checklist: Path, tmp_path: Path, target: Target
) -> None:
    db = tmp_path / "golive.db"
    text_mode = {"SLACK_BOT_TOKEN": "", "GOLIVE_CHECKLIST": ""}
    code, output = cli("run", "--checklist", str(small_checklist), db=db, env=text_mode)
    assert code == 0, output
    assert "Checkliste seit dem vorigen Lauf geändert" not in output  # the first run

    _with_phase_two(small_checklist, target.server_address[1])
    document = yaml.safe_load(small_checklist.read_text())
    items = document["phases"][0]["sections"][0]["items"]
    document["phases"][0]["sections"][0]["items"] = [i for i in items if i["id"] != "runbook"]
    small_checklist.write_text(yaml.safe_dump(document, allow_unicode=True))
    code, output = cli("run", "--checklist", str(small_checklist), db=db, env=text_mode)
    assert code == 0, output
    digest = hashlib.sha256(small_checklist.read_bytes()).hexdigest()
    assert (
        f"Checkliste seit dem vorigen Lauf geändert (jetzt sha256 {digest[:12]}): "
        "Punkte hinzugefügt: smoke; Punkte entfernt: runbook"
    ) in output

    code, output = cli("run", "--checklist", str(small_checklist), db=db, env=text_mode)
    assert code == 0 and "Checkliste seit dem vorigen Lauf geändert" not in output  # unchanged since

    code, output = cli("diff", "1", "2", db=db, env=text_mode)
    assert code == 0, output
    assert "Punkte hinzugefügt: smoke; Punkte entfernt: runbook" in output


def test_status_from_the_database_is_of_the_release_the_run_was_for(
    small_checklist: Path, tmp_path: Path, target: Target
) -> None:
    """A checklist naming its version through a variable: read back where the variable is
    set otherwise, it still shows the release the run was for."""
    db = tmp_path / "golive.db"
    small_checklist.write_text(
        small_checklist.read_text().replace("version: 2.0.0", "version: ${SHOP_VERSION:-2.0.0}")
    )
    code, output = cli(
        "run", "--checklist", str(small_checklist), "--format", "json", db=db, env={"SHOP_VERSION": "3.0.0"}
    )
    assert code == 0, output
    assert json.loads(output)["release"] == {"name": "Shop", "version": "3.0.0"}

    code, output = cli("status", "--format", "json", db=db, env={"GOLIVE_CHECKLIST": "", "SHOP_VERSION": ""})
    assert code == 0, output
    status = json.loads(output)
    assert status["release"] == {"name": "Shop", "version": "3.0.0"}
    assert next(i for i in status["items"] if i["id"] == "health")["status"] == "PASS"


def test_status_of_a_result_a_newer_golive_stored_says_to_upgrade(
    small_checklist: Path, tmp_path: Path, target: Target
) -> None:
    """status reads the database without the Store: what the Store refuses to read, it
    refuses in the same words, not with a traceback."""
    db = tmp_path / "golive.db"
    assert cli("run", "--checklist", str(small_checklist), "--format", "json", db=db)[0] == 0
    with sqlite3.connect(db) as connection:
        connection.execute("""UPDATE results SET observed = '{"version": 9, "values": {}}'""")
    code, output = cli("status", db=db, env={"GOLIVE_CHECKLIST": ""})
    assert code == 2, output
    assert "format version 9" in output and "upgrade golive" in output
    assert "Traceback" not in output


def test_status_of_a_release_never_run_is_answered_by_the_store(
    small_checklist: Path, tmp_path: Path, target: Target
) -> None:
    """A checklist named whose release the database has not seen: nothing run, nothing
    lost, the release recorded (what the Store does on first sight)."""
    db = tmp_path / "golive.db"
    assert cli("run", "--checklist", str(small_checklist), "--format", "json", db=db)[0] == 0
    small_checklist.write_text(small_checklist.read_text().replace("version: 2.0.0", "version: 2.1.0"))
    code, output = cli("status", "--checklist", str(small_checklist), "--format", "json", db=db)
    assert code == 0, output
    status = json.loads(output)
    assert status["release"] == {"name": "Shop", "version": "2.1.0"} and status["run_id"] is None
    with sqlite3.connect(db) as connection:
        releases = connection.execute("SELECT name, version FROM releases ORDER BY id").fetchall()
    assert releases == [("Shop", "2.0.0"), ("Shop", "2.1.0")]


# -- the text output, as a person reads it: the real command in a pipe and on a terminal --


def _environment(tmp_path: Path) -> dict[str, str]:
    """No Slack token (the messages stay here), no colour forced or refused from outside,
    a terminal type that has colours: whether codes appear is up to the output alone."""
    drop = ("GOLIVE_", "SLACK_", "FORCE_COLOR", "NO_COLOR", "TTY_", "COLUMNS", "LINES")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "TERM": "xterm-256color", "HOME": str(tmp_path)}


def _run_args(checklist: Path, tmp_path: Path, *extra: str) -> list[str]:
    db = f"sqlite:///{tmp_path / 'golive.db'}"
    charts = str(tmp_path / "charts")
    command = [sys.executable, "-m", "golive", "run", "-c", str(checklist)]
    return [*command, "--db", db, "--charts", charts, *extra]


def piped(checklist: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    done = subprocess.run(
        _run_args(checklist, tmp_path, *extra),
        capture_output=True,
        text=True,
        env=_environment(tmp_path),
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    return done.returncode, done.stdout


def on_a_terminal(checklist: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    """The command with a pseudo-terminal (120 × 40) as its standard output."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        _run_args(checklist, tmp_path, *extra),
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=subprocess.DEVNULL,
        env=_environment(tmp_path),
        cwd=tmp_path,
    )
    os.close(secondary)
    read = bytearray()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closed: the command ended
                break
            if not chunk:
                break
            read += chunk
        code = process.wait(timeout=10)
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()
    return code, read.decode()


def test_a_run_in_a_pipe_prints_the_compact_summary_in_plain_lines(
    small_checklist: Path, tmp_path: Path, target: Target
) -> None:
    target.status = 503
    code, output = piped(small_checklist, tmp_path)
    assert code == 1  # a blocking automated item fails
    assert "\x1b[" not in output  # no colour, no cursor movement: a pipe gets plain lines
    lines = output.splitlines()
    assert lines[0] == "NO-GO: 4 Blocker (Lauf #1, Shop v2.0.0)"
    assert "Punkte: 1 ✘ FAIL, 1 … PENDING" in lines
    assert "  ✘ P1: Staging: 1 ✘ FAIL, 1 … PENDING" in lines  # a line per phase
    assert "Sign-offs: 0 von 2 gültig" in lines
    # The blockers with their messages.
    [health] = [line for line in lines if line.startswith("  ✘ FAIL health Health-Checks erfolgreich: ")]
    assert "HTTP 503" in health and "[STATUS] = 503, limit == 200" in health
    assert any(line.startswith("  … PENDING runbook Runbook erstellt: ") for line in lines)
    assert any(line.startswith("  … PENDING signoff:devops ") for line in lines)
    # Where the charts were written, and they are there.
    assert f"Diagramme: 1 PNG-Datei(en) in {tmp_path / 'charts'}/ geschrieben (p1.png)" in lines
    assert (tmp_path / "charts" / "p1.png").read_bytes().startswith(b"\x89PNG")
    # The checklist is German: so is the console.
    # Compact: neither every item's line nor the bot's Slack messages.
    assert "ms)" not in output and "Go-Live-Lauf" not in output
    assert len(lines) <= 12, output


def test_verbose_lists_every_item_and_the_messages_without_slack_markup(
    small_checklist: Path, tmp_path: Path, target: Target
) -> None:
    _with_phase_two(small_checklist, target.server_address[1])
    code, output = piped(small_checklist, tmp_path, "--verbose")
    assert code == 0, output  # every blocking automated item passes: the exit code says so
    assert "\x1b[" not in output
    decided = {
        match.group(2): match.group(1)
        for match in re.finditer(r"^\S (\w+)\s+\w+\s+(\S+)\s.*\(\d+ ms\) — ", output, re.MULTILINE)
    }
    assert decided == {"health": "PASS", "runbook": "PENDING", "smoke": "PASS"}
    # What the bot would post, readable: no *bold* stars, no <url|label> or <@user>.
    assert "Go-Live-Lauf #1 · Shop v2.0.0" in output
    assert "── Beitrag in " in output and "── post to " not in output  # where, in German too
    assert "P1: Staging" in output and "*P1: Staging*" not in output
    assert not re.search(r"<(https?://|@|#|!)[^>]*>", output), output
    assert not re.search(r"(^|\s)\*\S[^*\n]*\*(\s|$)", output, re.MULTILINE), output
    # The summary last.
    assert output.rstrip().splitlines()[-1].startswith("Diagramme: 2 PNG-Datei(en) in")
    assert "NO-GO: 3 Blocker (Lauf #1, Shop v2.0.0)" in output


def test_quiet_prints_only_the_verdict_line(small_checklist: Path, tmp_path: Path, target: Target) -> None:
    target.status = 500
    code, output = piped(small_checklist, tmp_path, "--quiet")
    assert code == 1  # the exit codes stay as they were
    assert output.splitlines() == ["NO-GO: 4 Blocker (Lauf #1, Shop v2.0.0)"]
    code, output = cli("run", "-c", str(small_checklist), "-q", "-v", db=tmp_path / "golive.db")
    assert code == 2 and "--verbose and --quiet exclude each other" in output


def test_a_run_on_a_terminal_shows_live_progress_then_the_summary(
    small_checklist: Path, tmp_path: Path, target: Target
) -> None:
    target.delay = 1.5  # long enough for the display to show the probe still running
    target.status = 503
    code, output = on_a_terminal(small_checklist, tmp_path)
    assert code == 1  # the same exit code as in a pipe
    # The live display: cursor hidden while it runs, the counts, the probe still running.
    assert "\x1b[?25l" in output and "\x1b[?25h" in output
    assert "1/2" in output  # the manual item decided at once, the probe not yet
    style = r"(\x1b\[[0-9;]*m)*"
    assert re.search(rf"slowest still running: {style}health{style} \(Health-Checks", output)
    assert re.search(r"\d\.\d s elapsed", output)
    # Then the summary, in colour, after the display is gone.
    summary = output[output.rindex("\x1b[?25h") :]
    assert "NO-GO" in summary and "\x1b[1;31mNO-GO" in summary
    assert "\x1b[31m✘ FAIL" in summary  # the status table's colour and symbol
    assert "health" in summary and "[STATUS] = 503, limit == 200" in summary
