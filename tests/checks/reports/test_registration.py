"""The three report families are registered, and their examples and defaults load."""

from __future__ import annotations

import pytest

from golive.checks.loader import loads
from golive.checks.probe import all_probe_types

from .support import checklist_text, item


@pytest.mark.parametrize("name", ["k6", "vuln_report", "coverage"])
def test_example_loads_with_the_default_conditions(name: str) -> None:
    probe_type = all_probe_types()[name]
    checklist = loads(checklist_text([item("example", probe_type.example)]), env={})
    loaded = checklist.item("example")
    assert isinstance(loaded.config, probe_type.config_model)
    assert [c.text for c in loaded.parsed_conditions] == list(probe_type.default_conditions)
    assert probe_type.gather is not None
    names = [v.name for v in probe_type.values]
    assert len(names) == len(set(names))


def test_unknown_parameters_fail_at_load() -> None:
    from golive.checks.errors import ChecklistError

    text = checklist_text(
        [
            item("k6", {"type": "k6", "summary": "s.json", "metric": {"duration": "x"}}),
            item("cov", {"type": "coverage", "report": "c.xml", "metric": "statements"}),
            item("vuln", {"type": "vuln_report", "reports": [], "waivers": [{"id": "CVE-1"}]}),
        ]
    )
    with pytest.raises(ChecklistError) as raised:
        loads(text, env={})
    problems = {(p.where, p.field) for p in raised.value.problems}
    assert ("item k6", "probe.metric") in problems
    assert ("item cov", "probe.metric") in problems
    assert ("item vuln", "probe.reports") in problems
    assert ("item vuln", "probe.waivers.0.expires") in problems
    assert ("item vuln", "probe.waivers.0.reason") in problems
