"""A fake Grafana per test (it starts in milliseconds), filled with the release's
dashboards, alert rules and users; tests change its state where they need another."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.services.prometheus import closed_port

from .fake_grafana import (
    ADMIN_TOKEN,
    VIEWER_TOKEN,
    GrafanaState,
    alert_rule,
    dashboard,
    fake_grafana,
    org_user,
)

TOKEN_ENV = "GOLIVE_TEST_GRAFANA_TOKEN"
VIEWER_ENV = "GOLIVE_TEST_GRAFANA_VIEWER_TOKEN"
WRONG_ENV = "GOLIVE_TEST_GRAFANA_WRONG_TOKEN"
WRONG_TOKEN = "glsa_revoked_0000000000_0000"


@dataclass(frozen=True)
class Grafana:
    url: str
    state: GrafanaState


def release_state() -> GrafanaState:
    return GrafanaState(
        dashboards=[
            dashboard("erp-overview", "ERP Overview", "valeo-neuroerp", "overview"),
            dashboard("erp-latency", "ERP Latency", "valeo-neuroerp", "slo"),
            dashboard("erp-errors", "ERP Errors", "valeo-neuroerp", "slo"),
            dashboard("backup-overview", "Backup Overview", "backup"),
            dashboard("node-exporter", "Node Exporter", "infra"),
        ],
        alert_rules=[
            alert_rule("erp-error-rate", "ERP API error rate high"),
            alert_rule("erp-p95", "ERP p95 latency above 500ms"),
            alert_rule("backup-failed", "Backup job failed", paused=True),
        ],
        users=[
            org_user(1, "admin", "Admin"),
            org_user(2, "ops-lead", "Admin"),
            org_user(3, "dev-anna", "Editor"),
            org_user(4, "viewer-ben", "Viewer"),
            org_user(5, "old-ops", "Editor", disabled=True),
            org_user(6, "intern", "None"),
        ],
    )


@pytest.fixture
def grafana(monkeypatch: pytest.MonkeyPatch) -> Iterator[Grafana]:
    monkeypatch.setenv(TOKEN_ENV, ADMIN_TOKEN)
    monkeypatch.setenv(VIEWER_ENV, VIEWER_TOKEN)
    monkeypatch.setenv(WRONG_ENV, WRONG_TOKEN)
    state = release_state()
    with fake_grafana(state) as url:
        yield Grafana(url, state)


@pytest.fixture
def refused_port() -> Iterator[int]:
    with closed_port() as port:
        yield port
