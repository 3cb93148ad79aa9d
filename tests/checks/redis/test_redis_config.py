"""The redis probe's config: what loads, what fails at load (naming item and field)."""

from __future__ import annotations

from typing import Any

import pytest

from golive.checks.errors import ChecklistError
from golive.checks.families.redis import RedisConfig, target_of
from golive.checks.loader import loads
from golive.checks.probe import all_probe_types

from .support import checklist_yaml, item


def test_example_loads_with_the_default_conditions() -> None:
    probe_type = all_probe_types()["redis"]
    checklist = loads(checklist_yaml(item("example", dict(probe_type.example))), env={})
    loaded = checklist.item("example")
    assert isinstance(loaded.config, RedisConfig)
    assert [c.text for c in loaded.parsed_conditions] == list(probe_type.default_conditions)


@pytest.mark.parametrize(
    ("probe", "url"),
    [
        ({"url": "redis://cache:6380/2"}, "redis://cache:6380/2"),
        ({"url": "rediss://cache"}, "rediss://cache:6379/0"),
        ({"host": "cache", "tls": True}, "rediss://cache:6379/0"),
        ({"host": "::1", "port": 7000, "db": 1}, "redis://[::1]:7000/1"),
    ],
)
def test_target_from_url_or_host(probe: dict[str, Any], url: str) -> None:
    assert target_of(RedisConfig.model_validate({"type": "redis", **probe})).url == url


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        ({}, "give either 'url' or 'host'"),
        ({"url": "redis://a", "host": "b"}, "give either 'url' or 'host'"),
        ({"url": "redis://:secret@cache:6379/0"}, "credentials in the URL are not allowed"),
        ({"url": "redis://cache/0?password=x"}, "takes no ?query"),
        ({"url": "http://cache"}, "write redis://host:port/db"),
        ({"url": "redis://cache/zero"}, "database number"),
        ({"url": "redis://cache", "port": 6380}, "port belong in the url"),
        ({"url": "redis://cache", "tls": {"verify": False}}, "TLS options need a rediss:// url"),
        ({"host": "cache", "password": "inline"}, "inline secrets are not allowed"),
        ({"host": "cache", "expect_role": "leader"}, "expect_role"),
    ],
)
def test_invalid_config_fails_at_load(probe: dict[str, Any], message: str) -> None:
    with pytest.raises(ChecklistError) as raised:
        loads(checklist_yaml(item("cache", {"type": "redis", **probe})), env={})
    text = str(raised.value)
    assert "item cache: probe" in text
    assert message in text
