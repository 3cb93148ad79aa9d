"""The command line, end to end: real checklist files, a real HTTP target, a real SQLite
database, the real CLI code (typer's runner in-process, and one subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
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
    assert code == 2 and "not an approver" in output

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
    assert code == 2 and "already signed off" in output

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
    assert code == 2 and "only manual items are confirmed" in output
