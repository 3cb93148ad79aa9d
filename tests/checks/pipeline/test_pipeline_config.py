"""pipeline configs are validated when the checklist loads, naming item and field."""

from __future__ import annotations

from typing import Any

import pytest

from golive.checks.errors import ChecklistError, Problem
from golive.checks.families.pipeline import PipelineConfig
from golive.checks.loader import loads
from golive.checks.probe import probe_type
from tests.checks.http.support import checklist_yaml, item

SHA = "3f7c2a9be0d14c5a8e6f1b2d3c4a5e6f7a8b9c0d"


def only_problem(probe: dict[str, Any]) -> Problem:
    with pytest.raises(ChecklistError) as caught:
        loads(checklist_yaml(item("ci", probe)), env={})
    (problem,) = caught.value.problems
    assert problem.where == "item ci"
    return problem


def github(**config: Any) -> dict[str, Any]:
    return {"type": "pipeline", "provider": "github", "repo": "valeo/neuroerp", **config}


def test_example_loads_with_the_default_condition() -> None:
    kind = probe_type("pipeline")
    checklist = loads(checklist_yaml(item("ci", dict(kind.example))), env={})
    loaded = checklist.item("ci")
    assert isinstance(loaded.config, PipelineConfig)
    assert loaded.config.api_url is None  # the provider's default applies
    assert [c.text for c in loaded.parsed_conditions] == ["[CONCLUSION] == success"]


@pytest.mark.parametrize(
    ("probe", "field", "words"),
    [
        (github(), "probe", "name exactly one ref"),
        (github(tag="v1.1.0", branch="main"), "probe", "name exactly one ref"),
        (github(ref="v1.1.0"), "probe", "not ref:"),
        (github(sha="3f7c2a9"), "probe.sha", "full commit SHA"),
        (github(tag="v1.1.0", token="ghp_inline"), "probe.token", "inline secrets are not allowed"),
        (github(tag="v1.1.0", repo="neuroerp"), "probe.repo", "owner/name"),
        (github(tag="v1.1.0", project="valeo/erp"), "probe", "github takes repo"),
        (github(tag="v1.1.0", api_url="https://u:p@ghe.example.com/api/v3"), "probe.api_url", "token: {env"),
        (github(tag="v1.1.0", provider="bitbucket"), "probe.provider", "'github' or 'gitlab'"),
        ({"type": "pipeline", "provider": "gitlab", "tag": "v1.1.0"}, "probe", "needs project"),
        (
            {
                "type": "pipeline",
                "provider": "gitlab",
                "project": "valeo/erp",
                "ref": "main",
                "workflow": "ci",
            },
            "probe",
            "workflow and event are for github",
        ),
    ],
)
def test_invalid_configs_fail_at_load(probe: dict[str, Any], field: str, words: str) -> None:
    problem = only_problem(probe)
    assert problem.field == field
    assert words in problem.message


def test_sha_is_normalised_and_api_url_trimmed() -> None:
    config = PipelineConfig.model_validate(
        github(sha=SHA.upper(), api_url="https://ghe.example.com/api/v3/", workflow=1234)
    )
    assert config.sha == SHA
    assert config.api_url == "https://ghe.example.com/api/v3"
    assert config.workflow == "1234"
