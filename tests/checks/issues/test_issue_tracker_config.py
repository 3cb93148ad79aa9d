"""issue_tracker configs are validated when the checklist loads, naming item and field."""

from __future__ import annotations

from typing import Any

import pytest

from golive.checks.errors import ChecklistError
from golive.checks.families.issues import IssueTrackerConfig
from golive.checks.loader import loads
from golive.checks.probe import probe_type
from tests.checks.http.support import checklist_yaml, item


def test_example_loads_with_the_default_condition() -> None:
    kind = probe_type("issue_tracker")
    loaded = loads(checklist_yaml(item("blockers", dict(kind.example))), env={}).item("blockers")
    assert isinstance(loaded.config, IssueTrackerConfig)
    assert [c.text for c in loaded.parsed_conditions] == ["[OPEN] == 0"]
    assert [c.text for c in loaded.parsed_conditions] == list(kind.default_conditions)


JIRA = {"type": "issue_tracker", "provider": "jira", "api_url": "https://jira.example.com"}


@pytest.mark.parametrize(
    ("probe", "field", "words"),
    [
        (
            {"type": "issue_tracker", "provider": "github", "repo": "valeo/erp"},
            "probe",
            "name the blocker labels",
        ),
        (
            {"type": "issue_tracker", "provider": "github", "repo": "valeo/erp", "labels": [""]},
            "probe.labels",
            "empty",
        ),
        (
            {
                "type": "issue_tracker",
                "provider": "gitlab",
                "project": "valeo/erp",
                "labels": ["b"],
                "jql": "x",
            },
            "probe",
            "jql, email and api are for jira",
        ),
        ({"type": "issue_tracker", "provider": "jira", "jql": "project = ERP"}, "probe", "needs api_url"),
        (
            {**JIRA, "jql": "x", "project": "ERP", "labels": ["b"]},
            "probe",
            "either jql, or project and labels",
        ),
        ({**JIRA, "project": "ERP"}, "probe", "either jql, or project and labels"),
        ({**JIRA, "jql": "x", "email": "bot@example.com"}, "probe", "email goes with token"),
        ({**JIRA, "jql": "x", "token": {"env": "A", "file": "/b"}}, "probe.token", "exactly one"),
        ({**JIRA, "jql": "x", "api": "v3"}, "probe.api", "'server' or 'cloud'"),
    ],
)
def test_invalid_configs_fail_at_load(probe: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ChecklistError) as caught:
        loads(checklist_yaml(item("blockers", probe)), env={})
    (problem,) = caught.value.problems
    assert (problem.where, problem.field) == ("item blockers", field)
    assert words in problem.message
