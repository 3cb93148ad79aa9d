"""Conditions: parsing errors at load, and evaluation that shows what it saw."""

from __future__ import annotations

import pytest

from golive.checks.conditions import ConditionSyntaxError, check_placeholders, evaluate, parse


def outcome(text: str, values: dict[str, object], units: dict[str, str] | None = None) -> tuple[bool, str]:
    result = evaluate(parse(text), values, units)
    return result.passed, result.message


@pytest.mark.parametrize(
    ("text", "values", "passed"),
    [
        ("[STATUS] == 200", {"STATUS": 200}, True),
        ("[STATUS] == 200", {"STATUS": 503}, False),
        ("[STATUS] < 400", {"STATUS": 302}, True),
        ("[P95_MS] < 500", {"P95_MS": 612.4}, False),
        ("[P95_MS] <= 500", {"P95_MS": 500}, True),
        ("[COVERAGE] > 90%", {"COVERAGE": 91.2}, True),
        ("[RATE] >= 0.5", {"RATE": "0.8571"}, True),  # numbers that arrive as strings
        ("[BODY].status == UP", {"BODY": {"status": "UP"}}, True),
        ("[BODY].status == 'UP'", {"BODY": {"status": "DOWN"}}, False),
        ("[BODY].items[1].name == b", {"BODY": {"items": [{"name": "a"}, {"name": "b"}]}}, True),
        ("[BODY].items[5].name == b", {"BODY": {"items": []}}, False),
        ("len([BODY].data) > 0", {"BODY": {"data": [1, 2]}}, True),
        ("len([BODY].data) > 0", {"BODY": {"data": []}}, False),
        ("has([BODY].x) == true", {"BODY": {"x": 0}}, True),
        ("has([BODY].x) == true", {"BODY": {}}, False),
        ("[BODY] == pat(*healthy*)", {"BODY": "all healthy here"}, True),
        ("[BODY] != pat(*error*)", {"BODY": "fine"}, True),
        ("[STATUS] == any(200, 204)", {"STATUS": 204}, True),
        ("[STATUS] == any(200, 204)", {"STATUS": 500}, False),
        ("[OK] == true", {"OK": True}, True),
        ("[OK] == false", {"OK": True}, False),
        ("[VALUE] == null", {"VALUE": None}, True),
        ("[VERSION] == [RELEASE_VERSION]", {"VERSION": "1.1.0", "RELEASE_VERSION": "1.1.0"}, True),
        ("[VERSION] == [RELEASE_VERSION]", {"VERSION": "1.0.9", "RELEASE_VERSION": "1.1.0"}, False),
        ("[VERSION] == 1.10", {"VERSION": "1.1"}, False),
        ("[VERSION] == [RELEASE_VERSION]", {"VERSION": "1.10", "RELEASE_VERSION": "1.1"}, False),
        ("[VERSION] == [RELEASE_VERSION]", {"VERSION": "2.0", "RELEASE_VERSION": "2"}, False),
        ("[VALUE] == 2", {"VALUE": 2.0}, True),  # versions are not numbers when they differ as text
        ("[P95_MS] < 500", {}, False),  # not observed never passes an ordering
        ("[VALUE] < 1", {"VALUE": "NaN"}, False),
    ],
)
def test_evaluation(text: str, values: dict[str, object], passed: bool) -> None:
    assert outcome(text, values)[0] is passed


def test_version_strings_compare_as_text_when_not_numbers() -> None:
    assert outcome("[VERSION] == 1.1.0", {"VERSION": "1.1.0"})[0] is True
    assert outcome("[VERSION] == 1.1.0", {"VERSION": "1.1.1"})[0] is False


def test_message_shows_value_and_limit_with_unit() -> None:
    passed, message = outcome("[P95_MS] < 500", {"P95_MS": 612.0}, {"P95_MS": "ms"})
    assert not passed
    assert message == "[P95_MS] = 612 ms, limit < 500 ms"


def test_message_for_missing_value_says_not_observed() -> None:
    _, message = outcome("[P99_MS] < 800", {})
    assert "(not observed)" in message


def test_percent_unit_in_message() -> None:
    _, message = outcome("[ERROR_RATE] < 1", {"ERROR_RATE": 2.5}, {"ERROR_RATE": "%"})
    assert message == "[ERROR_RATE] = 2.5%, limit < 1%"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[STATUS] 200", "no comparison"),
        ("[STATUS] ==", "both sides"),
        ("[status] == 200", "not a value reference"),
        ("1 == 1", "two constants"),
        ("[BODY] < pat(x*)", "only with == and !="),
        ("pat(x) == [BODY]", "right-hand side"),
        ("len(STATUS) > 1", "not a value reference"),
    ],
)
def test_syntax_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(ConditionSyntaxError, match=fragment):
        parse(text)


def test_operator_inside_quotes_is_not_split() -> None:
    condition = parse("[BODY] == 'a<b'")
    assert condition.operator == "=="
    assert outcome("[BODY] == 'a<b'", {"BODY": "a<b"})[0] is True


def test_placeholder_check_names_unknown_values() -> None:
    problems = check_placeholders(parse("[STATS] == 200"), {"STATUS": False, "BODY": True})
    assert problems and "[STATS]" in problems[0] and "[STATUS]" in problems[0]
    assert check_placeholders(parse("[STATUS].x == 1"), {"STATUS": False}) == [
        "[STATUS] is a plain value and has no fields"
    ]
    assert check_placeholders(parse("[BODY].a.b == 1"), {"BODY": True}) == []
