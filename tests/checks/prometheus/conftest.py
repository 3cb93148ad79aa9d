"""A real Prometheus for the whole session, in a known state once the fixture returns:

- job ``prometheus`` scrapes Prometheus itself (up), job ``erp-api`` a port that refuses
  connections (down, with ``lastError``);
- group ``erp-alerts``: ``PrometheusSelfScrape`` (firing) and ``ErpApiDown`` (pending:
  ``for: 1h``), both healthy;
- group ``erp-recording``: ``job:up:sum``, healthy;
- group ``erp-broken``: a recording rule that parses (Prometheus would not start
  otherwise) but fails at every evaluation with a many-to-many matching error;
- retention ``--storage.tsdb.retention.time=7d``, which Prometheus reports as ``1w``.

Small extra servers (retention variants, basic auth) start per module in well under a
second: they wait for readiness only, not for discovery (~5 s) or scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from tests.services import require_service
from tests.services.prometheus import PrometheusServer, closed_port, prometheus_unavailable_reason

#: One series on the left, two on the right, matched on no labels: parses fine, and fails
#: at every evaluation (rule health ``err``, with ``lastError``).
MANY_TO_MANY_QUERY = (
    'vector(1) * on() (label_replace(vector(1), "a", "x", "", "")'
    ' or label_replace(vector(1), "a", "y", "", ""))'
)
RULES = yaml.safe_dump(
    {
        "groups": [
            {
                "name": "erp-alerts",
                "rules": [
                    {
                        "alert": "PrometheusSelfScrape",
                        "expr": 'up{job="prometheus"} == 1',
                        "labels": {"severity": "info"},
                        "annotations": {"summary": "Prometheus scrapes itself"},
                    },
                    {
                        "alert": "ErpApiDown",
                        "expr": 'up{job="erp-api"} == 0',
                        "for": "1h",
                        "labels": {"severity": "critical"},
                    },
                ],
            },
            {"name": "erp-recording", "rules": [{"record": "job:up:sum", "expr": "sum by (job) (up)"}]},
            {"name": "erp-broken", "rules": [{"record": "broken:many_to_many", "expr": MANY_TO_MANY_QUERY}]},
        ]
    },
    sort_keys=False,
)

#: The runtime error of erp-broken, as Prometheus 2.42 words it.
MANY_TO_MANY = "many-to-many matching not allowed: matching labels must be unique on one side"


@dataclass(frozen=True)
class Scenario:
    server: PrometheusServer
    #: The erp-api target's port, which refuses connections.
    down_port: int

    @property
    def url(self) -> str:
        return self.server.url


def require_prometheus() -> None:
    reason = prometheus_unavailable_reason()
    if reason is not None:
        require_service("Prometheus", reason)


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Scenario]:
    require_prometheus()
    with closed_port() as down_port:
        server = PrometheusServer(
            scrape={"erp-api": [f"127.0.0.1:{down_port}"]},
            rules={"erp.rules.yml": RULES},
            args=["--storage.tsdb.retention.time=7d"],
        )
        with server:
            server.wait_for_targets(2)
            server.wait_for_rules()
            server.wait_for_query(
                'ALERTS{alertname="PrometheusSelfScrape",alertstate="firing"}',
                lambda result: len(result) == 1,
            )
            # rate() needs two samples in its window.
            server.wait_for_query(
                'count_over_time(up{job="prometheus"}[1m])',
                lambda result: bool(result) and float(result[0]["value"][1]) >= 2,
            )
            yield Scenario(server, down_port)


@pytest.fixture
def refused_port() -> Iterator[int]:
    with closed_port() as port:
        yield port
