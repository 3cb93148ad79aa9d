"""The registry probe's parameters: the example loads, mistakes fail at load by field."""

from __future__ import annotations

from typing import Any

import pytest

from golive.checks.errors import ChecklistError
from golive.checks.families.registry import RegistryConfig
from golive.checks.loader import loads
from golive.checks.probe import all_probe_types

from .support import checklist_yaml, item


def test_example_loads_with_the_default_condition() -> None:
    probe_type = all_probe_types()["registry"]
    checklist = loads(checklist_yaml(item("example", dict(probe_type.example))), env={})
    loaded = checklist.item("example")
    assert isinstance(loaded.config, RegistryConfig)
    assert [c.text for c in loaded.parsed_conditions] == ["len([MISSING]) == 0"]
    assert loaded.config.tag is None  # the release version is used
    names = [v.name for v in probe_type.values]
    assert len(names) == len(set(names))


def test_conditions_may_walk_into_sizes_and_digests() -> None:
    conditions = [
        "[SIZES_MB].valeo/api.linux/amd64 < 300",
        "has([DIGESTS].valeo/api) == true",
        "[LARGEST_MB] < 500",
    ]
    probe = {"type": "registry", "url": "https://r.example", "images": ["valeo/api"]}
    loads(checklist_yaml(item("walk", probe, conditions=conditions)), env={})


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"images": ["Valeo/API"]}, "probe.images", "'Valeo/API' is not a repository name"),
        ({"images": ["valeo//api"]}, "probe.images", "is not a repository name"),
        ({"images": ["valeo/api:1.1.0"]}, "probe.images", "the tag comes from 'tag'"),
        ({"images": ["valeo/api", "valeo/api"]}, "probe.images", "listed twice: valeo/api"),
        ({"images": []}, "probe.images", "at least 1 item"),
        ({"tag": "1.1.0+build"}, "probe.tag", "not a valid tag"),
        ({"url": "ftp://registry.example"}, "probe.url", "write the registry's base URL"),
        ({"url": "https://ci:pw@registry.example"}, "probe.url", "credentials in the URL are not allowed"),
        ({"auth": {"username": "ci", "password": "plain"}}, "probe.auth.password", "inline secrets"),
        ({"max_size_mb": 0}, "probe.max_size_mb", "greater than 0"),
        ({"mirror": {"url": "not a url"}}, "probe.mirror.url", "write the registry's base URL"),
        ({"signatures": True}, "probe.signatures", "unknown parameter"),
    ],
)
def test_mistakes_fail_at_load_naming_the_field(change: dict[str, Any], field: str, fragment: str) -> None:
    probe = {"type": "registry", "url": "https://registry.example", "images": ["valeo/api"], **change}
    with pytest.raises(ChecklistError) as raised:
        loads(checklist_yaml(item("images", probe)), env={})
    problems = [(p.where, p.field, p.message) for p in raised.value.problems]
    assert any(w == "item images" and f == field and fragment in m for w, f, m in problems), problems
