"""docs/checklist-authors.md is generated from the probe registry and committed: it must be
current, and it must document every probe type with its parameters, values and example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from golive.bot.render import authordoc
from golive.checks.probe import all_probe_types

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "checklist-authors.md"


@pytest.fixture(scope="module")
def rendered() -> str:
    return authordoc.render()


def test_committed_guide_is_current(rendered: str) -> None:
    assert GUIDE.read_text(encoding="utf-8") == rendered, "run: golive docs > docs/checklist-authors.md"


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^### `([a-z0-9_]+)`$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_probe_type_is_documented_in_full(rendered: str) -> None:
    documented = sections(rendered)
    probe_types = all_probe_types()
    assert set(documented) == set(probe_types)
    for name, probe in probe_types.items():
        text = documented[name]
        assert probe.summary in text
        fields = {f.alias or n for n, f in probe.config_model.model_fields.items()} - {"type"}
        for field in fields:
            assert f"| `{field}` |" in text, f"{name}: parameter {field} missing"
        for observed in probe.values:
            assert f"`[{observed.name}]`" in text, f"{name}: value {observed.name} missing"
        for condition in probe.default_conditions:
            assert f"`{condition}`" in text
        example = re.search(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
        assert example is not None, f"{name}: no example"
        assert yaml.safe_load(example.group(1)) == {"probe": dict(probe.example)}


def test_parameter_comments_become_descriptions(rendered: str) -> None:
    """The ``#:`` comment above a config field is its description in the guide."""
    http = sections(rendered)["http"]
    assert re.search(r"\| `ca_file` \| string \| optional \| CA bundle \(PEM\) to verify the server", http)
    assert "| `json` | any | optional |" in http, "a field is documented by its YAML name (alias)"
