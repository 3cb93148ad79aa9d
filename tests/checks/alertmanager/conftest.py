"""A real Alertmanager for the session: receivers ``erp-oncall`` and ``release-channel``
(webhooks to a port that refuses connections: nothing is ever delivered) and
``blackhole``, which has no notifier at all. Clustering is off, so the cluster status is
``disabled``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import require_service
from tests.services.prometheus import AlertmanagerServer, alertmanager_unavailable_reason, closed_port

#: Part of a webhook URL, standing for the token such URLs often carry.
HOOK_SECRET = "hook-token-9d3f71"


def alertmanager_config(port: int) -> str:
    return f"""\
route:
  receiver: erp-oncall
  routes:
    - matchers: ['severity="info"']
      receiver: blackhole
receivers:
  - name: erp-oncall
    webhook_configs:
      - url: http://127.0.0.1:{port}/hooks/{HOOK_SECRET}
        send_resolved: true
  - name: release-channel
    webhook_configs:
      - url: http://127.0.0.1:{port}/release
  - name: blackhole
"""


@pytest.fixture(scope="session")
def alertmanager() -> Iterator[AlertmanagerServer]:
    reason = alertmanager_unavailable_reason()
    if reason is not None:
        require_service("Alertmanager", reason)
    with closed_port() as port, AlertmanagerServer(config=alertmanager_config(port)) as server:
        yield server


@pytest.fixture
def refused_port() -> Iterator[int]:
    with closed_port() as port:
        yield port
