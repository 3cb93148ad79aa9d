"""The settings model: every variable the process reads is in it, a bad value is named at
load, the CLI takes its fallbacks from it, and docs/operators.md lists it as it is."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from golive import settings
from golive.bot.cli import app
from golive.bot.serve.settings import Settings as ServeSettings

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operators.md"
BUNDLED = ROOT / "checklists" / "valeo-neuroerp-1.1.0.yaml"
VARIABLES = {settings.variable(field) for field in settings.Settings.model_fields}
#: A variable name in quotes, as the code reads it (probe families name the checklist's
#: own variables in examples, which the checklist, not the process, chooses).
READ = re.compile(r'"((?:GOLIVE|SLACK|PG|KUBE)[A-Z_]*|PORT|HOST)"')


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_the_operators_guide_lists_the_model_as_it_is() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert settings.with_table(text) == text, "run: .venv/bin/python -m golive.settings docs/operators.md"


def test_every_variable_the_process_reads_is_in_the_model() -> None:
    named: set[str] = set()
    for path in (ROOT / "golive").rglob("*.py"):
        if "families" not in path.parts:
            named |= set(READ.findall(path.read_text(encoding="utf-8")))
    assert named - VARIABLES == set()


def test_values_come_typed_and_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = settings.load_settings()
    assert (loaded.port, loaded.lease, loaded.channel) == (3000, timedelta(seconds=15), None)
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("GOLIVE_LEASE_SECONDS", "4.5")
    monkeypatch.setenv("GOLIVE_CHANNEL", "")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    loaded = settings.load_settings()
    assert (loaded.port, loaded.lease, loaded.channel) == (8080, timedelta(seconds=4.5), None)
    assert loaded.slack_api_url == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PORT", "http", "PORT='http' is not a port number"),
        ("GOLIVE_VERDICT_SECONDS", "0.5", "GOLIVE_VERDICT_SECONDS='0.5' is too short"),
        ("GOLIVE_LEADER_ELECTION", "etcd", "GOLIVE_LEADER_ELECTION='etcd' is not one of database"),
        ("GOLIVE_LOG_LEVEL", "LOUD", "GOLIVE_LOG_LEVEL='LOUD' is not a log level"),
        ("GOLIVE_SHUTDOWN_GRACE", "-1", "GOLIVE_SHUTDOWN_GRACE='-1': give the seconds"),
        (
            "GOLIVE_SLACK_ALLOWED_TEAMS",
            "T0SISTER,#general",
            "GOLIVE_SLACK_ALLOWED_TEAMS='T0SISTER,#general': '#general' is not a workspace",
        ),
    ],
)
def test_a_bad_value_is_named_with_what_to_give(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(settings.SettingsError) as raised:
        settings.load_settings()
    assert str(raised.value).startswith(says)


def test_secrets_stay_out_of_reprs_but_reach_the_slack_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-for-logs")
    monkeypatch.setenv("GOLIVE_DB_URL", "postgresql://golive:hunter2@127.0.0.1/golive")
    assert "xoxb-not-for-logs" not in repr(settings.load_settings())
    assert "hunter2" not in repr(settings.load_settings())
    assert ServeSettings.from_env().bot_token == "xoxb-not-for-logs"


def test_the_cli_takes_the_checklist_from_the_model_s_variable() -> None:
    result = CliRunner().invoke(app, ["validate"], env={"GOLIVE_CHECKLIST": str(BUNDLED)})
    assert result.exit_code == 0, result.output
    unset = CliRunner().invoke(app, ["validate"], env={"GOLIVE_CHECKLIST": ""})
    assert unset.exit_code != 0
    assert "GOLIVE_CHECKLIST" in unset.output


def test_the_allowed_workspaces_reach_the_slack_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServeSettings.from_env().allowed_teams == ()
    monkeypatch.setenv("GOLIVE_SLACK_ALLOWED_TEAMS", " T0SISTER, E0GRID ,")
    assert ServeSettings.from_env().allowed_teams == ("T0SISTER", "E0GRID")
