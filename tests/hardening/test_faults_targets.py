"""Probe targets that misbehave: hang, reset the connection, trickle one byte a second,
answer with more than the size cap, or with bodies that are not what the API promises.

Every URL-taking probe type (found generically, by the URL fields of its example) is
pointed at a local server doing that. Each item ends within its timeout, as ERROR with
a message that says what happened; none crashes (``probe failed: <Exception>``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from golive.checks.hosts import URL_FIELDS
from golive.checks.loader import loads
from golive.checks.model import Checklist
from golive.checks.probe import all_probe_types
from golive.checks.results import ItemResult
from golive.checks.runner import run_checklist
from golive.checks.status import Status

from .fuzz import FUZZ, examples
from .mutate import JSON_VALUES
from .targets import Target, target

TIMEOUT = 2.0
#: Where a probe type's example has no http(s) URL, the parameters that take one.
URL_PARAMETERS: dict[str, dict[str, Any]] = {
    "k6": {"summary": "{url}"},
    "coverage": {"report": "{url}"},
    "vuln_report": {"reports": ["{url}"]},
    "pipeline": {"api_url": "{url}"},
    "issue_tracker": {"api_url": "{url}"},
}
SECRET = "target-secret-4d2a"


def _with_url(value: Any, url: str, named: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: _with_url(v, url, k in URL_FIELDS) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_url(v, url, named) for v in value]
    if named and isinstance(value, str) and value.startswith(("http://", "https://")):
        return url
    return value


def _env_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["env"]} if isinstance(value.get("env"), str) else set()
        return found | {n for v in value.values() for n in _env_names(v)}
    if isinstance(value, list):
        return {n for v in value for n in _env_names(v)}
    return set()


def url_probes(url: str) -> list[dict[str, Any]]:
    """One probe config per URL-taking probe type, every URL pointing at ``url``."""
    probes = []
    for name, kind in sorted(all_probe_types().items()):
        example = json.loads(json.dumps(dict(kind.example)))
        if name in URL_PARAMETERS:
            example.update(json.loads(json.dumps(URL_PARAMETERS[name]).replace("{url}", url)))
        probe = _with_url(example, url)
        if probe != example or name in URL_PARAMETERS:
            probes.append(probe)
    return probes


def checklist(url: str) -> Checklist:
    items = [
        {"id": f"{probe['type'].replace('_', '-')}", "title": probe["type"], "probe": probe}
        for probe in url_probes(url)
    ]
    document = {
        "release": {"name": "Shop", "version": "1.1.0"},
        "defaults": {"timeout": TIMEOUT},
        "phases": [{"id": "p1", "title": "P1", "sections": [{"id": "s1", "title": "S1", "items": items}]}],
    }
    return loads(yaml.safe_dump(document), env={})


@pytest.fixture(scope="module")
def served() -> Iterator[Target]:
    with target() as server:
        yield server


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in sorted(_env_names([dict(t.example) for t in all_probe_types().values()])):
        monkeypatch.setenv(name, SECRET)


def test_every_url_probe_type_is_covered() -> None:
    covered = {probe["type"] for probe in url_probes("http://127.0.0.1:9")}
    assert {
        "http",
        "openapi",
        "k6",
        "coverage",
        "vuln_report",
        "registry",
        "prometheus_query",
        "alertmanager",
        "grafana_health",
        "pipeline",
        "issue_tracker",
    } <= covered


def run(loaded: Checklist) -> tuple[dict[str, ItemResult], float]:
    started = time.perf_counter()
    results = asyncio.run(run_checklist(loaded)).results
    return results, time.perf_counter() - started


def assert_clear_errors(results: dict[str, ItemResult], *expected: str) -> None:
    for item_id, result in results.items():
        assert result.status is Status.ERROR, (item_id, result.status, result.message)
        assert not result.message.startswith("probe failed"), (item_id, result.message)
        if expected:
            assert any(e in result.message for e in expected), (item_id, result.message)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/hang", ("timed out",)),
        ("/trickle", ("timed out",)),
        ("/reset", ()),
        ("/huge", ("allowed",)),
        ("/huge-chunked", ("allowed",)),
    ],
)
def test_misbehaving_targets_end_in_a_clear_error_within_the_timeout(
    served: Target, path: str, expected: tuple[str, ...]
) -> None:
    results, seconds = run(checklist(f"{served.url}{path}"))
    assert seconds < TIMEOUT + 3, f"the run took {seconds:.1f}s; items are cut at {TIMEOUT}s"
    assert_clear_errors(results, *expected)
    assert not any(SECRET in r.message for r in results.values())


BODIES = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.sampled_from(
        [b"", b"<html><body>502 Bad Gateway</body></html>", b"null", b"{", b'{"status": "success"']
    )
    | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"status": st.just("success"), "data": JSON_VALUES}).map(
        lambda v: json.dumps(v).encode()
    ),
)


# Each example runs every URL probe type once (about half a second).
@settings(FUZZ, max_examples=examples(20))
@given(
    body=BODIES,
    status=st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 503]),
    content_type=st.sampled_from(
        [
            "application/json",
            "text/html",
            "text/plain; charset=utf-8",
            "application/json; charset=x-unknown",
            "",
        ]
    ),
)
def test_bodies_that_are_not_what_the_api_promises(
    served: Target, body: bytes, status: int, content_type: str
) -> None:
    served.body, served.status, served.content_type = body, status, content_type
    results, _ = run(checklist(f"{served.url}/any"))
    for item_id, result in results.items():
        assert not result.message.startswith("probe failed"), (item_id, result.message)
        assert result.status in {Status.PASS, Status.WARN, Status.FAIL, Status.ERROR, Status.STALE}
