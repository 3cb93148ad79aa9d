"""The families' catalogue says truly where each probe type lives and of what kind it is.

The verdict reads an item's kind from the catalogue instead of importing its family, and
asking for one probe type imports only its family's module: a catalogue that named the
wrong module or kind would make `golive status` decide wrongly, or a type unknown."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from golive.checks import families
from golive.checks.probe import ProbeRegistry, ProbeType, family_registry, probe_kind, probe_type, using


def test_the_catalogue_names_every_registered_type_with_its_kind() -> None:
    registered = family_registry().types()
    assert {name: kind for name, (_, kind) in families.CATALOGUE.items()} == {
        name: probe.kind for name, probe in registered.items()
    }


def fresh(code: str) -> object:
    """What ``code`` prints as JSON, run in a new interpreter (nothing imported yet)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("module", sorted({module for module, _ in families.CATALOGUE.values()}))
def test_each_module_registers_the_types_the_catalogue_places_in_it(module: str) -> None:
    names = sorted(name for name, (where, _) in families.CATALOGUE.items() if where == module)
    code = f"""
import json, sys
from golive.checks import families
from golive.checks.probe import REGISTRY
families.load({names[0]!r})
print(json.dumps({{
    "registered": sorted(n for n in {names!r} if n in REGISTRY),
    "module": "golive.checks.families.{module}" in sys.modules,
}}))
"""
    assert fresh(code) == {"registered": names, "module": True}


def test_asking_for_one_type_imports_only_its_family() -> None:
    code = """
import json, sys
from golive.checks.probe import probe_kind, probe_type
kinds = [probe_kind(name) for name in ("http", "manual", "signoff", "kube_workloads")]
redis = probe_type("redis").name
print(json.dumps({
    "kinds": kinds,
    "redis": redis,
    "families": sorted(m for m in sys.modules if m.startswith("golive.checks.families.")),
}))
"""
    assert fresh(code) == {
        "kinds": ["auto", "manual", "derived", "auto"],
        "redis": "redis",
        "families": ["golive.checks.families.redis"],
    }


def test_an_unknown_type_is_unknown_once_every_family_is_loaded() -> None:
    with pytest.raises(KeyError):
        probe_type("no_such_probe")
    with pytest.raises(KeyError):
        probe_kind("no_such_probe")


def test_a_registry_put_in_place_decides_kinds_not_the_catalogue() -> None:
    """Tests run with probe types of their own: the kind is theirs, even for a name the
    catalogue knows."""
    http = family_registry().get("http")
    mine = ProbeType(
        name="http",
        summary="a test's own",
        config_model=http.config_model,
        gather=None,
        values=(),
        default_conditions=(),
        example={"type": "http"},
        kind="manual",
    )
    with using(ProbeRegistry([mine])):
        assert probe_kind("http") == "manual"
        assert probe_type("http") is mine
    assert probe_kind("http") == "auto"
