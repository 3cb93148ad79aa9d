"""Loading checklists: every problem reported at once, named by item and field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from golive.checks.errors import ChecklistError
from golive.checks.loader import loads

from .probes_for_tests import checklist_yaml, sleep_probe


@pytest.fixture(autouse=True)
def _sleep_probe() -> Iterator[None]:
    with sleep_probe():
        yield


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ChecklistError) as caught:
        loads(text, env=env or {})
    return [str(p) for p in caught.value.problems]


def test_every_problem_is_listed_with_item_and_field() -> None:
    found = problems(
        checklist_yaml(
            [
                {"id": "a", "title": "A", "probe": {"type": "sleep", "secnds": 1}},
                {"id": "b", "title": "B", "probe": {"type": "nope"}},
                {"id": "c", "title": "C", "probe": {"type": "sleep"}, "conditions": ["[VALU] < 1"]},
                {"id": "d", "title": "D", "probe": {"type": "sleep"}, "depends_on": ["zzz"]},
                {"id": "e", "title": "E", "probe": {"type": "sleep"}, "owner": "nobody"},
                {"id": "f", "title": "F", "probe": {"type": "sleep"}, "max_age": "soon"},
            ]
        )
    )
    text = "\n".join(found)
    assert "item a: probe.secnds: unknown parameter for probe type 'sleep'" in text
    assert "item b: probe.type: unknown probe type 'nope'" in text
    assert "item c: conditions[0]: unknown value '[VALU]'" in text
    assert "item d: depends_on: no item 'zzz'" in text
    assert "item e: owner: 'nobody' is not a sign-off role" in text
    assert "item f: max_age:" in text and "not a duration" in text


def test_duplicate_ids_and_cycles() -> None:
    found = problems(
        checklist_yaml(
            [
                {"id": "a", "title": "A", "probe": {"type": "sleep"}, "depends_on": ["b"]},
                {"id": "b", "title": "B", "probe": {"type": "sleep"}, "depends_on": ["a"]},
                {"id": "a", "title": "A again", "probe": {"type": "sleep"}, "depends_on": ["b"]},
            ]
        )
    )
    text = "\n".join(found)
    assert "item a: id: used twice" in text
    assert "cycle:" in text


def test_a_long_dependency_chain_loads_in_order() -> None:
    """1,200 items, each depending on the one listed after it: a chain deeper than Python's
    recursion limit, walked from its first item."""
    count = 1200
    last = count - 1
    items: list[dict[str, object]] = [
        {"id": f"i{n}", "title": f"I{n}", "probe": {"type": "sleep"}} for n in range(count)
    ]
    for n in range(last):
        items[n]["depends_on"] = [f"i{n + 1}"]
    checklist = loads(checklist_yaml(items), env={})
    assert [item.id for item in checklist.items()] == [f"i{n}" for n in range(count)]
    assert all(checklist.item(f"i{n}").depends_on == [f"i{n + 1}"] for n in range(last))


def test_a_cycle_at_the_end_of_a_long_chain_is_named() -> None:
    count = 1200
    items = [
        {"id": f"i{n}", "title": f"I{n}", "probe": {"type": "sleep"}, "depends_on": [f"i{(n + 1) % count}"]}
        for n in range(count)
    ]
    found = problems(checklist_yaml(items))
    assert len(found) == 1 and "depends_on: cycle: " in found[0], found[:3]
    assert found[0].count("→") == count, "the cycle names every item on it"


def test_missing_and_unknown_top_level_fields() -> None:
    found = problems("release: {name: X}\nphases: []\nextra: 1\n")
    text = "\n".join(found)
    assert "checklist: release.version: required field is missing" in text
    assert "checklist: extra: unknown field" in text
    assert "checklist: phases:" in text


def test_invalid_yaml_names_line() -> None:
    found = problems("release: {name: X\nphases: [")
    assert found and "line" in found[0] and "not valid YAML" in found[0]


def test_top_level_not_a_mapping() -> None:
    assert "top level must be a mapping" in problems("- a\n- b\n")[0]


def test_interpolation_with_defaults_and_escape() -> None:
    text = checklist_yaml(
        [{"id": "a", "title": "A ${NOT_INTERPOLATED}", "probe": {"type": "sleep", "seconds": "${S:-0.5}"}}],
        release={"name": "Demo $${LITERAL}", "version": "${VERSION}"},
    )
    checklist = loads(text, env={"VERSION": "2.0.0"})
    assert checklist.release.version == "2.0.0"
    assert checklist.release.name == "Demo ${LITERAL}"
    assert checklist.items()[0].title == "A ${NOT_INTERPOLATED}"  # titles are not interpolated
    assert checklist.items()[0].config is not None


def test_unset_variable_outside_items_is_an_error() -> None:
    found = problems(
        checklist_yaml(
            [{"id": "a", "title": "A", "probe": {"type": "sleep"}}],
            release={"name": "X", "version": "${NOPE}"},
        )
    )
    assert found == ["checklist: release.version: ${NOPE} is not set and has no default"]


def test_unset_variable_in_item_is_not_an_error_but_other_fields_still_are() -> None:
    text = checklist_yaml(
        [{"id": "a", "title": "A", "probe": {"type": "sleep", "seconds": "${S}", "value": "lots"}}]
    )
    found = problems(text)
    assert len(found) == 1 and found[0].startswith("item a: probe.value:")
    checklist = loads(
        checklist_yaml([{"id": "a", "title": "A", "probe": {"type": "sleep", "seconds": "${S}"}}]), env={}
    )
    assert checklist.items()[0].unset_variables == ("S",)
    assert checklist.items()[0].config is None


def test_approvers_split_from_one_variable() -> None:
    text = checklist_yaml(
        [{"id": "a", "title": "A", "probe": {"type": "sleep"}}],
        signoffs=[{"id": "devops", "title": "DevOps", "approvers": {"users": ["${TEAM:-}"]}}],
    )
    assert loads(text, env={"TEAM": "U0001, U0002"}).signoffs[0].approvers.users == ["U0001", "U0002"]
    assert loads(text, env={}).signoffs[0].approvers.users == []
    found = problems(text, env={"TEAM": "alice"})
    assert any("approvers.users.0" in p for p in found)


def test_inline_secret_is_refused() -> None:
    from golive.checks.secrets import SecretRef

    with pytest.raises(ValueError, match="inline secrets are not allowed"):
        SecretRef.model_validate("hunter22")
    with pytest.raises(ValueError, match="exactly one"):
        SecretRef.model_validate({})


def test_list_entry_of_one_reference_expands_comma_separated_values() -> None:
    from golive.checks.interpolate import interpolate

    unset: set[str] = set()
    env = {"IMAGES": "valeo/api, valeo/web,", "ONE": "x"}
    assert interpolate(["${IMAGES}", "fixed", "${ONE}"], env, unset) == [
        "valeo/api",
        "valeo/web",
        "fixed",
        "x",
    ]
    assert interpolate(["${EMPTY:-}"], env, unset) == []
    assert interpolate(["a,${ONE}"], env, unset) == ["a,x"]  # only whole-entry references expand
    assert interpolate(["${MISSING}"], env, unset) == [] and unset == {"MISSING"}


def test_a_registry_built_by_the_test_is_used_inside_its_block_only() -> None:
    from golive.checks.probe import REGISTRY, ProbeRegistry, using

    from .probes_for_tests import SLEEP

    document = checklist_yaml([{"id": "a", "title": "A", "probe": {"type": "sleep"}}])
    assert loads(document, env={}).item("a").probe_type == "sleep"  # the fixture's registry
    with using(ProbeRegistry()):
        assert problems(document)[0].startswith("item a: probe.type: unknown probe type 'sleep'")
    with using(ProbeRegistry([SLEEP])):
        assert loads(document, env={}).item("a").probe_type == "sleep"
    assert "sleep" not in REGISTRY.types(), "the families' registry is never changed"
