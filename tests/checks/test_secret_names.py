"""Which names say "secret", for each kind of name, and what each caller does with them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from golive.bot.ops.logs import redact_secrets
from golive.checks.families.command import CommandConfig
from golive.checks.families.http import HttpConfig
from golive.checks.redaction import URL_MASK, public_url, redact_text
from golive.checks.secret_names import (
    is_secret_env_name,
    is_secret_field,
    is_secret_header,
    is_secret_parameter,
)

# name: (as a query parameter, as an environment variable, as a header, as a log field)
DECISIONS: dict[str, tuple[bool, bool, bool, bool]] = {
    "password": (True, True, True, True),
    "DB_PASSWORD": (True, True, True, True),
    "DBPASSWORD": (False, True, True, True),
    "apiToken": (False, True, True, True),
    "access_token": (True, True, True, True),
    "AWS_SECRET_ACCESS_KEY": (True, True, False, True),
    "X-Api-Key": (True, True, True, True),
    "X-Vault-Token": (True, True, True, True),
    "Private-Token": (True, True, True, True),
    "X-Amz-Signature": (True, False, False, False),
    "sig": (True, False, False, False),
    "sessionid": (True, False, False, False),
    "DB_PASS": (False, True, True, True),
    "sslpassword": (True, True, True, True),
    "Authorization": (False, False, True, True),
    "Cookie": (False, False, True, True),
    "Idempotency-Key": (True, True, False, False),
    # a URL's meaning, ordinary variables and headers
    "code": (False, False, False, False),
    "state": (False, False, False, False),
    "id": (False, False, False, False),
    "pass": (False, True, True, True),
    "TOKEN_URL": (True, False, False, True),
    "AWS_ACCESS_KEY_ID": (True, False, False, False),
    "SESSION_TIMEOUT": (True, False, False, False),
    "PUBLIC_KEY_URL": (True, False, False, False),
    "PUBLIC_KEY": (True, True, False, False),
    "PWD": (True, False, True, True),
    "MONKEY_MODE": (False, False, False, False),
    "KEYCLOAK_URL": (False, False, False, False),
    "PASSENGER_COUNT": (False, False, False, False),
    "BYPASS": (False, False, False, False),
    "LOG_LEVEL": (False, False, False, False),
    "Accept": (False, False, False, False),
    # log fields: plurals and the credential headers' words count there
    "bot_token": (True, True, True, True),
    "db_passwords": (False, False, False, True),
    "set_cookie": (False, False, False, True),
}


@pytest.mark.parametrize("name", DECISIONS)
def test_each_kind_of_name_decides_by_its_own_rule(name: str) -> None:
    decided = (
        is_secret_parameter(name),
        is_secret_env_name(name),
        is_secret_header(name),
        is_secret_field(name),
    )
    assert decided == DECISIONS[name]


@pytest.mark.parametrize("name", DECISIONS)
def test_a_query_parameter_is_masked_in_a_shown_url_exactly_when_its_name_says_secret(name: str) -> None:
    shown = public_url(f"https://erp.example.com/cb?{name}=value42&page=2")
    masked = DECISIONS[name][0]
    assert (f"{name}={URL_MASK}" in shown) is masked
    assert ("value42" in shown) is not masked
    assert "page=2" in shown


def test_code_and_counts_stay_readable_in_a_text() -> None:
    text = "callback ?code=abc123&state=xyz failed; pass=3 fail=1; password=hunter2"
    assert redact_text(text) == "callback ?code=abc123&state=xyz failed; pass=3 fail=1; password=[REDACTED]"


@pytest.mark.parametrize("name", [n for n in DECISIONS if n.isidentifier()])
def test_the_command_probe_refuses_an_inline_variable_whose_name_says_secret(name: str) -> None:
    config = {"type": "command", "argv": ["check_x"], "env": {name: "v"}}
    if DECISIONS[name][1]:
        with pytest.raises(ValidationError, match="secret_env"):
            CommandConfig.model_validate(config)
    else:
        assert CommandConfig.model_validate(config).env == {name: "v"}


@pytest.mark.parametrize("name", DECISIONS)
def test_the_http_probe_refuses_an_inline_header_whose_name_says_secret(name: str) -> None:
    config = {"type": "http", "url": "https://erp.example.com", "headers": {name: "v"}}
    if DECISIONS[name][2]:
        with pytest.raises(ValidationError, match="secret_headers"):
            HttpConfig.model_validate(config)
    else:
        assert HttpConfig.model_validate(config).headers == {name: "v"}


@pytest.mark.parametrize("name", DECISIONS)
def test_a_log_line_masks_a_field_whose_name_says_secret(name: str) -> None:
    line = redact_secrets(None, "info", {"event": "called", name: "value42", "nested": {name: "value42"}})
    expected = "[REDACTED]" if DECISIONS[name][3] else "value42"
    assert line[name] == expected
    assert line["nested"] == {name: expected}
