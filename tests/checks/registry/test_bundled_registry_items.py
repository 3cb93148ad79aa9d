"""The bundled checklist's registry items against a real registry that lets anyone in:
no GOLIVE_REGISTRY_USER and no GOLIVE_REGISTRY_PASSWORD are needed to check it."""

from __future__ import annotations

import pytest

from golive.checks.loader import load
from golive.checks.runner import run_checklist
from golive.checks.status import Status
from tests.checks.test_bundled_checklist import BUNDLED

from .conftest import Scenario

pytestmark = pytest.mark.services

#: The registry items of the bundled checklist that need no mirror.
REGISTRY_ITEMS = ("images-built", "image-sizes", "registry-access", "image-signatures")


async def test_an_anonymous_registry_needs_no_user_or_password(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOLIVE_REGISTRY_PASSWORD", raising=False)
    env = {"GOLIVE_REGISTRY_URL": scenario.url, "GOLIVE_IMAGES": "valeo/api"}
    checklist = load(BUNDLED, env=env)
    for item_id in REGISTRY_ITEMS:
        assert checklist.item(item_id).config is not None, (
            f"{item_id} needs {checklist.item(item_id).unset_variables}"
        )
    outcome = await run_checklist(checklist, phase="p1")
    for item_id in REGISTRY_ITEMS:
        result = outcome.results[item_id]
        assert result.status == Status.PASS, f"{item_id}: {result.message}"
