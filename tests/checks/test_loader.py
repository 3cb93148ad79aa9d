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


def two_phases(first: list[dict[str, object]], second: list[dict[str, object]], **top: object) -> str:
    import yaml

    document: dict[str, object] = {
        "release": {"name": "Demo", "version": "1.0.0"},
        "signoffs": [
            {"id": "devops", "title": "DevOps", "approvers": {"users": ["U0001"]}},
            {"id": "qa", "title": "QA", "approvers": {"users": ["U0002"]}},
        ],
        "phases": [
            {
                "id": "build",
                "title": "Build",
                "owner": "devops",
                "sections": [{"id": "images", "title": "Images", "items": first}],
            },
            {
                "id": "test",
                "title": "Test",
                "sections": [{"id": "load", "title": "Load", "owner": "qa", "items": second}],
            },
        ],
    }
    document.update(top)
    return yaml.safe_dump(document, allow_unicode=True)


def test_every_item_comes_out_knowing_its_place_config_and_conditions() -> None:
    text = two_phases(
        [{"id": "a", "title": "A", "probe": {"type": "sleep", "value": "${V}"}}],
        [
            {"id": "b", "title": "B", "probe": {"type": "sleep", "value": 7}, "conditions": ["[VALUE] > 1"]},
            {
                "id": "c",
                "title": "C",
                "probe": {"type": "sleep", "value": "${UNSET_HERE}"},
                "owner": "devops",
            },
        ],
    )
    checklist = loads(text, env={"V": "3"})
    a, b, c = checklist.item("a"), checklist.item("b"), checklist.item("c")
    assert (a.phase, a.section, a.responsible) == ("build", "images", "devops")
    assert (b.phase, b.section, b.responsible) == ("test", "load", "qa")
    assert c.responsible == "devops", "the item's own owner comes before its section's"
    assert a.config is not None and a.config.model_dump()["value"] == 3.0
    assert [x.text for x in a.parsed_conditions] == ["[VALUE] < 100"], "the probe's default"
    assert [x.text for x in b.parsed_conditions] == ["[VALUE] > 1"]
    assert c.config is None and c.unset_variables == ("UNSET_HERE",)
    assert checklist.source == "<checklist>" and checklist.content == text


def test_items_are_named_wherever_the_rest_of_the_checklist_fails() -> None:
    text = two_phases(
        [
            {"id": "a", "title": "A", "probe": {"type": "sleep"}},
            {"title": "no id", "probe": {"type": "sleep"}},
        ],
        [
            {"id": "b", "title": "B", "probe": {"type": "sleep", "secnds": 1}},
            {"id": "c", "probe": {"type": "sleep"}, "colour": "red"},
        ],
        release={"name": "Demo"},
    )
    found = problems(text)
    assert "checklist: release.version: required field is missing" in found
    assert "item #2 of section images: id: required field is missing" in found
    assert "item b: probe.secnds: unknown parameter for probe type 'sleep'" in found
    assert "item c: title: required field is missing" in found
    assert "item c: colour: unknown field (check the spelling; see schema/checklist.schema.json)" in found
    assert len(found) == 5, found


def test_a_registry_of_one_probe_type_names_its_parameters_too() -> None:
    from golive.checks.probe import ProbeRegistry, using

    from .probes_for_tests import SLEEP

    document = checklist_yaml([{"id": "a", "title": "A", "probe": {"type": "sleep", "secnds": 1}}])
    with using(ProbeRegistry([SLEEP])):
        assert problems(document) == ["item a: probe.secnds: unknown parameter for probe type 'sleep'"]
