"""Bad checklists at scale: mutated copies of valid checklists either load or fail with a
``ChecklistError`` whose every problem names where (an item, a sign-off role or a
top-level path) and which field. Never another exception: that would be a traceback in
``golive validate`` instead of a list of things to fix."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from golive.checks.errors import ChecklistError
from golive.checks.loader import MAX_DEPTH, MAX_VALUES, loads
from golive.checks.model import Checklist
from golive.checks.probe import all_probe_types

from .fuzz import FUZZ, FUZZ_SLOW

BUNDLED = Path(__file__).parents[2] / "checklists" / "valeo-neuroerp-1.1.0.yaml"
BUNDLED_TEXT = BUNDLED.read_text(encoding="utf-8")
BUNDLED_DOCUMENT: dict[str, Any] = yaml.safe_load(BUNDLED_TEXT)
VARIABLES = sorted(set(re.findall(r"\$\{([A-Z0-9_]+)", BUNDLED_TEXT)))


def every_probe_document() -> dict[str, Any]:
    """A small valid checklist with one item per registered probe type (its example), so
    every probe's config model meets the mutations."""
    items = [
        {"id": f"item-{name.replace('_', '-')}", "title": f"Item {name}", "probe": dict(kind.example)}
        for name, kind in sorted(all_probe_types().items())
    ]
    return {
        "release": {"name": "Shop", "version": "2.0.0", "channel": "#release", "language": "de"},
        "defaults": {"timeout": "5s", "max_age": "1d", "concurrency": 4},
        "signoffs": [
            {"id": "product-owner", "title": "Product Owner", "approvers": {"users": ["U0OWNER"]}},
            {"id": "ops", "title": "Operations", "approvers": {"usergroups": ["S0OPS"]}, "max_age": "2d"},
        ],
        "rollback": {
            "procedure": ["helm rollback shop"],
            "triggers": [{"name": "Errors", "description": "5xx above 5 %"}],
            "roles": [{"role": "Lead", "people": [{"name": "Dana", "slack": "U0DANA"}]}],
        },
        "schedule": {"interval": "15m", "window": {"start": "08:00", "end": "18:00"}},
        "phases": [
            {
                "id": "p1",
                "title": "P1",
                "owner": "ops",
                "sections": [{"id": "s1", "title": "S1", "items": items[: len(items) // 2]}],
            },
            {
                "id": "p2",
                "title": "P2",
                "sections": [
                    {"id": "s2", "title": "S2", "owner": "product-owner", "items": items[len(items) // 2 :]}
                ],
            },
        ],
    }


SMALL_DOCUMENT = every_probe_document()


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


KNOWN_KEYS = sorted(_keys(BUNDLED_DOCUMENT) | _keys(SMALL_DOCUMENT))
ODD_STRINGS = [
    "",
    " ",
    "${GOLIVE_HEALTH_URL}",
    "${UNSET_VARIABLE}",
    "${X:-fallback}",
    "$${",
    "${",
    "http://",
    "https://erp.example.com/api/health",
    "http://[::1",
    "http://user:pw@example.com/",
    "file:///etc/passwd",
    "1h",
    "-5s",
    "0",
    "1e309",
    "99999999999999999999999d",
    "[STATUS] == 200",
    "[NOPE] < ",
    "((((((((((((((((((((",
    "U012ABCDEF",
    "S0GROUP",
    "\u202eevil",
    "Größe ✓ 💥",
    "\t\n",
    "a" * 5000,
    *sorted(all_probe_types()),
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**400),
    st.integers(min_value=-(10**400), max_value=-(10**18)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(ODD_STRINGS),
)
KEYS = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=12))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
SNIPPETS = [
    "\n- ",
    ": ",
    "\t",
    "!!set ",
    "!!binary ",
    "!!omap ",
    "!!python/object/apply:os.system ",
    "!!timestamp ",
    "&anchor ",
    "*anchor ",
    "*undefined ",
    "? ",
    "{",
    "]",
    "'",
    '"',
    "\ufeff",
    "\x00",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "<<: *anchor\n",
]
MUTATIONS = ("drop", "duplicate", "rename", "replace", "deep", "huge")
DEEP = "DEEP-NESTING-"


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


def _mutate(document: dict[str, Any], data: st.DataObject) -> tuple[dict[str, Any], dict[str, int]]:
    """A copy with a few structural mutations; deep nesting is left as a placeholder
    (emitters recurse too) that ``_render`` writes out as text."""
    document = copy.deepcopy(document)
    deep: dict[str, int] = {}
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        parent: Any = document
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
        if kind == "drop":
            del parent[last]
        elif kind == "duplicate":
            if isinstance(parent, list):
                parent.insert(last, copy.deepcopy(parent[last]))
            else:
                parent[data.draw(KEYS, label="as key")] = copy.deepcopy(parent[last])
        elif kind == "rename" and isinstance(parent, dict):
            parent[data.draw(KEYS, label="new name")] = parent.pop(last)
        elif kind == "deep":
            marker = f"{DEEP}{len(deep)}"
            deep[marker] = data.draw(st.integers(MAX_DEPTH - 4, 3000), label="depth")
            parent[last] = marker
        elif kind == "huge":
            parent[last] = data.draw(
                st.sampled_from([10**100, -(10**100), 1.7e308, "x" * 200_000, ["y"] * 3000]), label="huge"
            )
        else:
            parent[last] = data.draw(VALUES, label="value")
    return document, deep


def _render(document: dict[str, Any], deep: dict[str, int], data: st.DataObject) -> str:
    text = yaml.dump(document, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False, width=200)
    for marker, depth in deep.items():
        text = text.replace(marker, "[" * depth + "]" * depth)
    for _ in range(data.draw(st.integers(0, 2), label="text edits")):
        edit = data.draw(st.sampled_from(["truncate", "insert", "duplicate line"]), label="edit")
        at = data.draw(st.integers(0, len(text)), label="at")
        if edit == "truncate":
            text = text[:at]
        elif edit == "insert":
            snippet = data.draw(st.sampled_from(SNIPPETS) | st.text(max_size=8), label="snippet")
            text = text[:at] + snippet + text[at:]
        else:  # a repeated line is a repeated key in a mapping
            lines = text.splitlines(keepends=True) or [""]
            index = min(at, len(lines) - 1)
            lines.insert(index, lines[index])
            text = "".join(lines)
    return text


def load_or_problems(text: str | bytes, env: dict[str, str]) -> Checklist | None:
    """Load; on ChecklistError check that every problem names a place and a field."""
    try:
        return loads(text, env=env)
    except ChecklistError as exc:
        problems = exc.problems
    assert problems, "a ChecklistError lists its problems"
    for problem in problems:
        assert problem.where.strip(), f"no place named: {problem}"
        assert problem.field.strip(), f"no field named: {problem}"
        assert problem.message.strip(), problem
    return None


ENVIRONMENTS = st.dictionaries(
    st.sampled_from(VARIABLES), st.sampled_from(ODD_STRINGS) | st.text(max_size=20)
)


@FUZZ
@given(data=st.data(), env=ENVIRONMENTS)
def test_mutated_small_checklists_load_or_name_every_problem(
    data: st.DataObject, env: dict[str, str]
) -> None:
    document, deep = _mutate(SMALL_DOCUMENT, data)
    load_or_problems(_render(document, deep, data), env)


@FUZZ_SLOW
@given(data=st.data(), env=ENVIRONMENTS)
def test_mutated_bundled_checklist_loads_or_names_every_problem(
    data: st.DataObject, env: dict[str, str]
) -> None:
    document, deep = _mutate(BUNDLED_DOCUMENT, data)
    load_or_problems(_render(document, deep, data), env)


@FUZZ
@given(text=st.text(max_size=300) | st.binary(max_size=300))
def test_arbitrary_text_is_never_a_traceback(text: str | bytes) -> None:
    load_or_problems(text, {})


def test_the_unmutated_documents_are_valid() -> None:
    """The fuzzing starts from valid checklists, or it only tests the error path."""
    assert loads(yaml.safe_dump(SMALL_DOCUMENT), env={}).items()
    assert loads(BUNDLED_TEXT, env={}).items()


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["release: {name: X, version: '1'}", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(ChecklistError) as caught:
        loads("\n".join(lines), env={})
    assert f"more than {MAX_VALUES} values" in str(caught.value)


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("flow", "release: " + "[" * 5000 + "]" * 5000),
        ("block", "".join(f"{'  ' * level}k{level}:\n" for level in range(200)) + "  " * 200 + "v: 1\n"),
        (
            "item probe",
            "release: {name: X, version: '1'}\nphases: [{id: p, title: P, sections: "
            "[{id: s, title: S, items: [{id: a, title: A, probe: {type: http, url: 'http://a/', json: "
            + "[" * 300
            + "]" * 300
            + "}}]}]}]",
        ),
    ],
)
def test_deep_nesting_is_refused_with_the_place(where: str, text: str) -> None:
    with pytest.raises(ChecklistError) as caught:
        loads(text, env={})
    assert all(p.field for p in caught.value.problems)
    assert re.search("deep|depth", str(caught.value))


def test_unset_top_level_variable_names_its_field() -> None:
    with pytest.raises(ChecklistError) as caught:
        loads("release: {name: '${NOPE}', version: '1'}\nphases: []\n", env={})
    assert "checklist: release.name: ${NOPE} is not set and has no default" in [
        str(p) for p in caught.value.problems
    ]
