"""The staging cluster (``cluster.yaml``) on the fake Kubernetes API server, and a
kubeconfig that points at it, the way an operator's ``KUBECONFIG`` would: the bundled
checklist's Kubernetes items carry no server of their own."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.checks.kubernetes.fake_apiserver import TOKEN, FakeApiServer, load_cluster

TEMPLATE = Path(__file__).with_name("cluster.yaml")
CLUSTER = "staging"
NAMESPACE = "valeo"
_RELATIVE = re.compile(r"^now(?:-(\d+)([dhm]))?$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def resolve(value: Any, now: datetime, registry: str) -> Any:
    """``now-10h`` → an RFC 3339 time, ``{registry}`` → host:port, through the document."""
    if isinstance(value, dict):
        return {k: resolve(v, now, registry) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, now, registry) for v in value]
    if isinstance(value, str):
        match = _RELATIVE.match(value)
        if match is not None:
            amount = (
                timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}) if match.group(1) else timedelta()
            )
            return (now - amount).strftime("%Y-%m-%dT%H:%M:%SZ")
        return value.replace("{registry}", registry)
    return value


@dataclass
class StagingCluster:
    server: FakeApiServer
    kubeconfig: Path
    _stop: threading.Event
    _thread: threading.Thread

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def start_cluster(folder: Path, registry: str) -> StagingCluster:
    document = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    document = {k: v for k, v in document.items() if not k.startswith("x-")}
    resolved = folder / f"{CLUSTER}.yaml"
    resolved.write_text(yaml.safe_dump(resolve(document, datetime.now(UTC), registry), sort_keys=False))
    stop = threading.Event()
    server = FakeApiServer({CLUSTER: load_cluster(resolved)}, stop)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    kubeconfig = folder / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "valeo-staging",
                "clusters": [{"name": CLUSTER, "cluster": {"server": server.url(CLUSTER)}}],
                "users": [{"name": "golive-probe", "user": {"token": TOKEN}}],
                "contexts": [
                    {
                        "name": "valeo-staging",
                        "context": {"cluster": CLUSTER, "user": "golive-probe", "namespace": NAMESPACE},
                    }
                ],
            }
        )
    )
    return StagingCluster(server, kubeconfig, stop, thread)
