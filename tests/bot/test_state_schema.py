"""The published JSON Schema of the state document: current, and what the CLI prints."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema  # type: ignore[import-untyped,unused-ignore]
from typer.testing import CliRunner

from golive.bot.cli import app
from golive.bot.gate.schema import rendered, state_schema

from .gate_support import gate_checklist, target

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schema" / "state.schema.json"


def test_the_published_schema_is_current() -> None:
    assert SCHEMA.read_text() == rendered(), (
        "run: python -m golive.bot.gate.schema > schema/state.schema.json"
    )


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(state_schema())


def test_run_and_status_json_follow_the_schema(tmp_path: Path) -> None:
    validator = jsonschema.Draft202012Validator(state_schema())
    with target() as server:
        checklist = gate_checklist(tmp_path, server.server_address[1])
        db = f"sqlite:///{tmp_path / 'golive.db'}"
        runner = CliRunner()
        ran = runner.invoke(app, ["run", "-c", str(checklist), "--db", db, "--format", "json"])
        phase = runner.invoke(
            app, ["run", "-c", str(checklist), "--db", db, "--format", "json", "--phase", "pre"]
        )
        status = runner.invoke(app, ["status", "--db", db, "--format", "json"])
    documents = [json.loads(r.stdout) for r in (ran, phase, status)]
    for document in documents:
        errors = [e.message for e in validator.iter_errors(document)]
        assert errors == []
    assert "results" in documents[1]  # a run's own report: the schema covers its extra part
    broken = dict(documents[2], verdict={"decision": "MAYBE", "go": "yes", "blockers": []})
    assert len(list(validator.iter_errors(broken))) == 2
