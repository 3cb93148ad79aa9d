"""http probe configs are validated when the checklist loads, naming item and field."""

from __future__ import annotations

import pytest

from golive.checks.errors import ChecklistError, Problem
from golive.checks.families.http import HttpConfig
from golive.checks.loader import loads
from golive.checks.probe import probe_type

from .support import checklist_yaml, item


def problems(probe: dict[str, object], **fields: object) -> list[Problem]:
    with pytest.raises(ChecklistError) as caught:
        loads(checklist_yaml(item("api", probe, **fields)), env={})
    return caught.value.problems


def only_problem(probe: dict[str, object]) -> Problem:
    found = problems(probe)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    "header",
    ["Authorization", "cookie", "Proxy-Authorization", "X-Api-Key", "Private-Token", "X-Vault-Token"],
)
def test_inline_credential_headers_are_refused(header: str) -> None:
    problem = only_problem(
        {"type": "http", "url": "https://erp.example.com", "headers": {header: "Bearer abc"}}
    )
    assert problem.where == "item api"
    assert problem.field == "probe.headers"
    assert header in problem.message
    assert "secret_headers" in problem.message


def test_inline_bearer_is_refused() -> None:
    problem = only_problem(
        {"type": "http", "url": "https://erp.example.com", "auth": {"bearer": "literal-token"}}
    )
    assert (problem.where, problem.field) == ("item api", "probe.auth.bearer")
    assert "inline secrets are not allowed" in problem.message


def test_inline_basic_password_is_refused() -> None:
    auth = {"basic": {"username": "u", "password": "hunter22"}}
    problem = only_problem({"type": "http", "url": "https://erp.example.com", "auth": auth})
    assert problem.field == "probe.auth.basic.password"


def test_credentials_in_the_url_are_refused() -> None:
    problem = only_problem({"type": "http", "url": "https://user:pw@erp.example.com/"})
    assert problem.field == "probe.url"
    assert "auth.basic" in problem.message


@pytest.mark.parametrize("url", ["ftp://erp.example.com/", "erp.example.com/health"])
def test_url_must_be_http(url: str) -> None:
    assert only_problem({"type": "http", "url": url}).field == "probe.url"


def test_body_and_json_exclude_each_other() -> None:
    problem = only_problem({"type": "http", "url": "https://e.example", "body": "x", "json": {"a": 1}})
    assert problem.field == "probe"
    assert "either 'body' or 'json'" in problem.message


def test_auth_and_an_authorization_secret_header_exclude_each_other() -> None:
    problem = only_problem(
        {
            "type": "http",
            "url": "https://e.example",
            "auth": {"bearer": {"env": "T"}},
            "secret_headers": {"authorization": {"env": "U"}},
        }
    )
    assert (problem.field, "not both" in problem.message) == ("probe", True)


def test_unknown_parameter_and_bad_method_are_named() -> None:
    found = problems({"type": "http", "url": "https://e.example", "methd": "GET", "method": "FETCH"})
    fields = {p.field: p.message for p in found}
    assert "unknown parameter for probe type 'http'" in fields["probe.methd"]
    assert "probe.method" in fields


def test_unknown_value_in_condition_is_named() -> None:
    found = problems({"type": "http", "url": "https://e.example"}, conditions=["[STAUTS] == 200"])
    assert [(p.field, "unknown value '[STAUTS]'" in p.message) for p in found] == [("conditions[0]", True)]


def test_a_valid_config_loads_with_defaults() -> None:
    checklist = loads(
        checklist_yaml(
            item(
                "api",
                {
                    "type": "http",
                    "url": "https://${ERP_HOST}/health",
                    "method": "head",
                    "secret_headers": {"Authorization": {"env": "ERP_TOKEN"}},
                },
            )
        ),
        env={"ERP_HOST": "erp.example.com"},
    )
    config = checklist.item("api").config
    assert isinstance(config, HttpConfig)
    assert config.url == "https://erp.example.com/health"
    assert config.method == "HEAD"
    assert config.verify_tls is True
    assert config.follow_redirects is True
    assert checklist.item("api").parsed_conditions[0].text == "[STATUS] == 200"


def test_the_registered_example_is_valid() -> None:
    kind = probe_type("http")
    assert isinstance(kind.config_model.model_validate(kind.example), HttpConfig)
