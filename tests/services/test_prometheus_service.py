"""The Prometheus and Alertmanager test servers start, answer, and leave nothing behind."""

from __future__ import annotations

import httpx
import pytest

from . import require_service
from .prometheus import (
    AlertmanagerServer,
    PrometheusServer,
    alertmanager_unavailable_reason,
    prometheus_unavailable_reason,
)

pytestmark = pytest.mark.services


def test_prometheus_stops_and_leaves_nothing_behind() -> None:
    reason = prometheus_unavailable_reason()
    if reason is not None:
        require_service("Prometheus", reason)
    server = PrometheusServer(scrape_self=False, args=["--storage.tsdb.retention.time=2d"])
    with server:
        root = server.root
        assert (root / "prometheus.yml").is_file()
        flags = server.get_json("/api/v1/status/flags")["data"]
        assert flags["storage.tsdb.retention.time"] == "2d"
        assert flags["web.listen-address"] == f"127.0.0.1:{server.port}"
    assert not root.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/-/ready", timeout=1)


def test_alertmanager_stops_and_leaves_nothing_behind() -> None:
    reason = alertmanager_unavailable_reason()
    if reason is not None:
        require_service("Alertmanager", reason)
    server = AlertmanagerServer(config="route: {receiver: ops}\nreceivers: [{name: ops}]\n")
    with server:
        root = server.root
        assert server.get_json("/api/v2/receivers") == [{"name": "ops"}]
    assert not root.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/-/ready", timeout=1)
