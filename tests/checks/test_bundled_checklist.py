"""The bundled checklist: every seed line is there, in order, with its German title, and
the committed JSON Schema matches the models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from golive.checks.loader import load
from golive.checks.probe import all_probe_types
from golive.checks.schema import checklist_schema

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "checklists" / "valeo-neuroerp-1.1.0.yaml"
SEED = ROOT / "checklists" / "seed" / "pre-golive-checklist.md"
SHARED_SEED = ROOT.parent / "shared" / "seed" / "pre-golive-checklist.md"
SCHEMA = ROOT / "schema" / "checklist.schema.json"


def seed_structure(text: str) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
    """(phase, section, [lines]) in order, and the sign-off role names."""
    sections: list[tuple[str, str, list[str]]] = []
    roles: list[str] = []
    phase = ""
    for line in text.splitlines():
        if line.startswith("## "):
            phase = line[3:].strip()
        elif line.startswith("### "):
            sections.append((phase, line[4:].strip(), []))
        elif line.startswith("- [ ] "):
            entry = line[6:].strip()
            if phase == "Sign-Off":
                roles.append(re.split(r":\s*_", entry)[0].strip())
            else:
                sections[-1][2].append(entry)
    return sections, roles


def test_seed_copy_is_the_users_seed() -> None:
    if not SHARED_SEED.exists():
        pytest.skip("the shared seed is not beside this checkout")
    assert SEED.read_text() == SHARED_SEED.read_text()


def test_every_seed_line_is_an_item_in_order() -> None:
    sections, roles = seed_structure(SEED.read_text())
    checklist = load(BUNDLED, env={})
    bundled = [
        (phase.title, section.title, [item.title for item in section.items])
        for phase in checklist.phases
        for section in phase.sections
    ]
    assert bundled == sections
    assert sum(len(lines) for _, _, lines in sections) == 65
    assert (
        [role.title for role in checklist.signoffs]
        == roles
        == [
            "DevOps-Team",
            "Security-Team",
            "Product Owner",
            "Operations",
        ]
    )


def test_bundled_checklist_loads_and_every_item_has_an_owner() -> None:
    checklist = load(BUNDLED, env={})
    assert checklist.release.language == "de"
    assert all(item.responsible for item in checklist.items())
    automated = [i for i in checklist.items() if all_probe_types()[i.probe_type].kind != "manual"]
    assert len(automated) >= 30, "items a system can decide must be automated"


def test_committed_schema_is_current() -> None:
    generated = json.dumps(checklist_schema(), indent=2, ensure_ascii=False) + "\n"
    assert SCHEMA.read_text() == generated, "run: golive schema > schema/checklist.schema.json"


def test_schema_describes_every_probe_type() -> None:
    schema = checklist_schema()
    probe = schema["$defs"]["Item"]["properties"]["probe"]
    assert set(probe["discriminator"]["mapping"]) == set(all_probe_types())


def test_mistakes_in_the_bundled_checklist_are_named_by_item_and_field() -> None:
    import yaml

    from golive.checks.errors import ChecklistError
    from golive.checks.loader import loads

    document = yaml.safe_load(BUNDLED.read_text())
    del document["phases"][0]["title"]
    first, second, third, fourth = [
        item for phase in document["phases"] for section in phase["sections"] for item in section["items"]
    ][:4]
    del first["title"]
    del second["id"]
    third["probe"]["bogus"] = 1
    fourth["conditions"] = ["[NOPE] == 1"]
    with pytest.raises(ChecklistError) as raised:
        loads(yaml.safe_dump(document, allow_unicode=True), env={})
    found = {str(problem) for problem in raised.value.problems}
    section = document["phases"][0]["sections"][0]["id"]
    probe_type = third["probe"]["type"]
    assert "checklist: phases.0.title: required field is missing" in found
    assert f"item {first['id']}: title: required field is missing" in found
    assert f"item #2 of section {section}: id: required field is missing" in found
    assert f"item {third['id']}: probe.bogus: unknown parameter for probe type {probe_type!r}" in found
    assert any(p.startswith(f"item {fourth['id']}: conditions[0]: unknown value '[NOPE]'") for p in found)
    assert len(found) == 5, found
