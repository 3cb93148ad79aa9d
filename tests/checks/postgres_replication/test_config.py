"""The postgres_replication config: what loads, what fails at load (naming item and field)."""

from __future__ import annotations

from typing import Any

import pytest

from golive.checks.errors import ChecklistError
from golive.checks.families.postgres_replication import PostgresReplicationConfig
from golive.checks.loader import loads
from golive.checks.probe import all_probe_types

from .support import checklist_yaml


def test_example_loads_with_the_default_conditions() -> None:
    probe_type = all_probe_types()["postgres_replication"]
    checklist = loads(checklist_yaml(dict(probe_type.example), timeout="10s"), env={})
    loaded = checklist.item("replication")
    assert isinstance(loaded.config, PostgresReplicationConfig)
    assert [c.text for c in loaded.parsed_conditions] == ["[STREAMING] == true"]


@pytest.mark.parametrize(
    ("probe", "field", "message"),
    [
        ({"host": "db", "user": "u"}, "probe.role", "Field required"),
        ({"role": "standby", "host": "db", "user": "u"}, "probe.role", "'primary' or 'replica'"),
        ({"role": "primary", "host": "db"}, "probe", "give 'host' and 'user'"),
        ({"role": "primary", "dsn": {"env": "DSN"}, "host": "db"}, "probe", "give either 'dsn' or host"),
        ({"role": "primary", "dsn": "postgresql://u:pw@db/x"}, "probe.dsn", "inline secrets"),
        ({"role": "primary", "host": "db", "user": "u", "password": "pw"}, "probe.password", "inline"),
        ({"role": "primary", "host": "db", "user": "u", "sslmode": "on"}, "probe.sslmode", "verify-full"),
        ({"role": "primary", "host": "db", "user": "u", "connect_timeout": "soon"}, "probe.connect_timeout",
         "not a duration"),
    ],
)
def test_invalid_config_fails_at_load(probe: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ChecklistError) as raised:
        loads(checklist_yaml({"type": "postgres_replication", **probe}, timeout="10s"), env={})
    problems = [p for p in raised.value.problems if p.where == "item replication"]
    assert any(p.field == field and message in p.message for p in problems), problems
