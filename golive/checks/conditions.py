"""Gatus-style conditions over a probe's observed values.

A condition is ``LEFT OP RIGHT`` with OP one of ``== != < <= > >=``. Operands:

- ``[NAME]`` — an observed value; ``[NAME].a.b[0]`` walks into a structured one;
- ``len(X)`` — length of a list, mapping or string; ``has(X)`` — the value exists;
- literals: numbers (``500``, ``0.5``, ``1%`` means 1 where the value is a percentage),
  ``true``/``false``/``null``, quoted or bare strings;
- on the right of ``==``/``!=`` only: ``pat(glob*)`` and ``any(a, b, c)``.

Parsing happens when the checklist loads (so a typo fails at load, naming the item);
evaluation is pure and its message shows the value seen, e.g.
``P95_MS = 612 ms, limit < 500 ms``.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_PLACEHOLDER = re.compile(r"^\[([A-Z][A-Z0-9_]*)\]((?:\.[^.\[\]]+|\[\d+\])*)$")
_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?%?$")
_MISSING = object()


class ConditionSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Placeholder:
    name: str
    path: tuple[str | int, ...] = ()

    def text(self) -> str:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return f"[{self.name}]{path}"


@dataclass(frozen=True)
class Function:
    name: str  # len | has
    argument: Placeholder


@dataclass(frozen=True)
class Literal:
    value: Any
    text: str


@dataclass(frozen=True)
class Pattern:
    glob: str


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Literal, ...]


Operand = Placeholder | Function | Literal | Pattern | AnyOf


@dataclass(frozen=True)
class Condition:
    text: str
    left: Operand
    operator: str
    right: Operand

    def placeholders(self) -> list[Placeholder]:
        found: list[Placeholder] = []
        for side in (self.left, self.right):
            if isinstance(side, Placeholder):
                found.append(side)
            elif isinstance(side, Function):
                found.append(side.argument)
        return found


@dataclass(frozen=True)
class ConditionOutcome:
    condition: str
    passed: bool
    message: str


def parse(text: str) -> Condition:
    """Parse one condition; raises ConditionSyntaxError naming what is wrong."""
    position, operator = _find_operator(text)
    if operator is None:
        raise ConditionSyntaxError(
            f"{text!r}: no comparison found; write e.g. '[STATUS] == 200' (operators: {' '.join(OPERATORS)})"
        )
    left_text = text[:position].strip()
    right_text = text[position + len(operator) :].strip()
    if not left_text or not right_text:
        raise ConditionSyntaxError(f"{text!r}: both sides of {operator!r} are needed")
    left = _parse_operand(left_text, text, right_side=False)
    right = _parse_operand(right_text, text, right_side=True)
    if isinstance(right, Pattern | AnyOf) and operator not in ("==", "!="):
        raise ConditionSyntaxError(f"{text!r}: pat() and any() work only with == and !=")
    if not any(isinstance(s, Placeholder | Function) for s in (left, right)):
        raise ConditionSyntaxError(f"{text!r}: compares two constants; name a value like [STATUS]")
    return Condition(text=text, left=left, operator=operator, right=right)


def _find_operator(text: str) -> tuple[int, str | None]:
    quote: str | None = None
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0:
            for op in OPERATORS:
                if text.startswith(op, i):
                    return i, op
        i += 1
    return -1, None


def _parse_operand(text: str, whole: str, *, right_side: bool) -> Operand:
    if text.startswith("["):
        return _parse_placeholder(text, whole)
    call = re.fullmatch(r"(len|has|pat|any)\((.*)\)", text, flags=re.DOTALL)
    if call:
        name, inner = call.group(1), call.group(2).strip()
        if name in ("len", "has"):
            return Function(name, _parse_placeholder(inner, whole))
        if not right_side:
            raise ConditionSyntaxError(f"{whole!r}: {name}() belongs on the right-hand side")
        if name == "pat":
            return Pattern(_unquote(inner))
        options = tuple(_literal(part.strip()) for part in _split_arguments(inner))
        if not options:
            raise ConditionSyntaxError(f"{whole!r}: any() needs at least one value")
        return AnyOf(options)
    return _literal(text)


def _parse_placeholder(text: str, whole: str) -> Placeholder:
    match = _PLACEHOLDER.match(text)
    if not match:
        raise ConditionSyntaxError(
            f"{whole!r}: {text!r} is not a value reference; write [NAME] or [NAME].field"
        )
    path: list[str | int] = []
    for key, index in _PATH_PART.findall(match.group(2)):
        path.append(int(index) if index else key)
    return Placeholder(match.group(1), tuple(path))


def _split_arguments(text: str) -> list[str]:
    parts, current, quote = [], "", None
    for ch in text:
        if quote:
            current += ch
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            current += ch
        elif ch == ",":
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _literal(text: str) -> Literal:
    lowered = text.lower()
    value: Any
    if lowered in ("true", "false"):
        value = lowered == "true"
    elif lowered in ("null", "none"):
        value = None
    elif _NUMBER.match(text):
        value = float(text.rstrip("%"))
        if value.is_integer() and "." not in text and "e" not in lowered:
            value = int(value)
    else:
        value = _unquote(text)
    return Literal(value, text)


def check_placeholders(condition: Condition, known: Mapping[str, bool]) -> list[str]:
    """Names the condition uses that the probe does not observe.

    ``known`` maps a placeholder name to whether it may be walked into with a path.
    """
    problems = []
    for placeholder in condition.placeholders():
        if placeholder.name not in known:
            names = ", ".join(f"[{n}]" for n in sorted(known))
            problems.append(f"unknown value {placeholder.text()!r}; this probe observes {names}")
        elif placeholder.path and not known[placeholder.name]:
            problems.append(f"[{placeholder.name}] is a plain value and has no fields")
    return problems


def resolve(placeholder: Placeholder, values: Mapping[str, Any]) -> Any:
    current: Any = values.get(placeholder.name, _MISSING)
    for part in placeholder.path:
        if current is _MISSING:
            break
        if isinstance(part, int) and isinstance(current, list):
            current = current[part] if -len(current) <= part < len(current) else _MISSING
        elif isinstance(current, Mapping):
            current = current.get(str(part), _MISSING)
        else:
            current = _MISSING
    return current


def observes_a_value(condition: Condition, values: Mapping[str, Any]) -> bool:
    """Whether any value the condition names was observed (it may still be null)."""
    return any(resolve(p, values) is not _MISSING for p in condition.placeholders())


def evaluate(
    condition: Condition, values: Mapping[str, Any], units: Mapping[str, str] | None = None
) -> ConditionOutcome:
    """Pure: decide one condition over observed values, with a message showing them."""
    left = _value(condition.left, values)
    right = _value(condition.right, values)
    passed = _compare(left, condition.operator, right, condition.right)
    unit = ""
    if units and isinstance(condition.left, Placeholder) and not condition.left.path:
        unit = units.get(condition.left.name, "")
    message = (
        f"{_describe(condition.left)} = {_show(left, unit)}, "
        f"limit {condition.operator} {_describe_right(condition.right, right, unit)}"
    )
    return ConditionOutcome(condition.text, passed, message)


def _value(operand: Operand, values: Mapping[str, Any]) -> Any:
    if isinstance(operand, Placeholder):
        return resolve(operand, values)
    if isinstance(operand, Function):
        found = resolve(operand.argument, values)
        if operand.name == "has":
            return found is not _MISSING and found is not None
        if found is _MISSING or found is None:
            return _MISSING
        try:
            return len(found)
        except TypeError:
            return _MISSING
    if isinstance(operand, Literal):
        return operand.value
    return operand


def _compare(left: Any, operator: str, right: Any, right_operand: Operand) -> bool:
    if isinstance(right_operand, Pattern):
        matched = left is not _MISSING and fnmatch.fnmatchcase(_text(left), right_operand.glob)
        return matched if operator == "==" else not matched
    if isinstance(right_operand, AnyOf):
        matched = any(_equal(left, option.value) for option in right_operand.options)
        return matched if operator == "==" else not matched
    if operator in ("==", "!="):
        if isinstance(left, str) and isinstance(right_operand, Literal) and _number(right) is not None:
            # An observed string against a written number compares as written text, so a
            # version "1.1" is not equal to 1.10; numbers observed as numbers compare as numbers.
            equal = left.strip() == right_operand.text.rstrip("%")
        else:
            equal = _equal(left, right)
        return equal if operator == "==" else not equal
    left_number, right_number = _number(left), _number(right)
    if left_number is None or right_number is None:
        return False  # an ordering over a missing or non-numeric value never holds
    if math.isnan(left_number) or math.isnan(right_number):
        return False
    return {
        "<": left_number < right_number,
        "<=": left_number <= right_number,
        ">": left_number > right_number,
        ">=": left_number >= right_number,
    }[operator]


def _equal(left: Any, right: Any) -> bool:
    if left is _MISSING:
        return False
    if isinstance(left, str) and isinstance(right, str):
        # Two texts ("1.10" vs "1.1", "2.0" vs "2") are equal only as written.
        return left.strip() == right.strip()
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return _text(left).lower() == _text(right).lower()
    left_number, right_number = _number(left), _number(right)
    if left_number is not None and right_number is not None:
        return left_number == right_number
    return _text(left) == _text(right)


def _number(value: Any) -> float | None:
    if value is _MISSING or value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value.strip().rstrip("%"))
    if isinstance(value, str) and value.strip() in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(value.strip().replace("Inf", "inf").replace("NaN", "nan"))
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _describe(operand: Operand) -> str:
    if isinstance(operand, Placeholder):
        return operand.text()
    if isinstance(operand, Function):
        return f"{operand.name}({operand.argument.text()})"
    if isinstance(operand, Literal):
        return operand.text
    return "?"


def _describe_right(operand: Operand, value: Any, unit: str) -> str:
    if isinstance(operand, Pattern):
        return f"pat({operand.glob})"
    if isinstance(operand, AnyOf):
        return "any(" + ", ".join(o.text for o in operand.options) + ")"
    if isinstance(operand, Literal):
        return _show(value, unit)
    return f"{_describe(operand)} ({_show(value, unit)})"


def _show(value: Any, unit: str) -> str:
    if value is _MISSING:
        return "(not observed)"
    if value is None:
        return "null"
    if isinstance(value, float):
        shown = f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    elif isinstance(value, list | dict):
        text = str(value)
        shown = text if len(text) <= 80 else text[:77] + "..."
    else:
        shown = _text(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
    if unit == "%":
        return f"{shown}%"
    return f"{shown} {unit}" if unit else shown
