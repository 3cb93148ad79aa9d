"""Every probe that talks to a server says the same thing when nothing listens there:
``cannot connect to HOST:PORT: connection refused``, so one search finds them all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from golive.checks.status import Status
from tests.services.prometheus import closed_port

from .support import run


@pytest.fixture
def refused_port() -> Iterator[int]:
    with closed_port() as port:
        yield port


def probes(port: int) -> dict[str, dict[str, Any]]:
    base = f"http://127.0.0.1:{port}"
    return {
        "http": {"type": "http", "url": f"{base}/health"},
        "openapi": {"type": "openapi", "document": f"{base}/openapi.json"},
        "k6": {"type": "k6", "summary": f"{base}/k6-summary.json"},
        "coverage": {"type": "coverage", "report": f"{base}/coverage.xml", "metric": "line"},
        "prometheus": {"type": "prometheus_query", "url": base, "query": "up"},
        "alertmanager": {"type": "alertmanager", "url": base},
        "grafana": {"type": "grafana_dashboards", "url": base, "tags": ["valeo-neuroerp"]},
        "pipeline": {
            "type": "pipeline",
            "provider": "github",
            "api_url": base,
            "repo": "valeo/neuroerp",
            "workflow": "release.yml",
            "tag": "v1.1.0",
        },
        "issues": {
            "type": "issue_tracker",
            "provider": "github",
            "api_url": base,
            "repo": "valeo/neuroerp",
            "labels": ["release blocker"],
        },
        "registry": {"type": "registry", "url": base, "images": ["valeo/api"]},
        "redis": {"type": "redis", "url": f"redis://127.0.0.1:{port}/0"},
        "postgres": {
            "type": "postgres_replication",
            "role": "primary",
            "host": "127.0.0.1",
            "port": port,
            "user": "golive_monitor",
        },
    }


async def test_one_wording_for_a_refused_connection(refused_port: int) -> None:
    items = [
        {"id": name, "title": f"Check {name}", "probe": probe} for name, probe in probes(refused_port).items()
    ]
    results = await run(*items)
    expected = f"cannot connect to 127.0.0.1:{refused_port}: connection refused"
    for name, result in results.items():
        assert result.status == Status.ERROR, f"{name}: {result.message}"
        assert expected in result.message, f"{name}: {result.message}"
        assert result.observed.get("TEMPORARY") is True, name
