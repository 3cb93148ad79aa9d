"""One fake Kubernetes API server per session (plain HTTP, and HTTPS with a test CA), plus
a plain HTTP server the Ingress checks reach through their ``localhost`` host."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.checks.http.servers import TestServer, issue_certificate, make_ca, tls_context

from .fake_apiserver import TOKEN, Cluster, FakeApiServer, load_clusters
from .support import CLUSTERS, Kube

#: More objects than one page of the client's chunked LIST (500).
LARGE_COUNT = 1100


def _large_cluster() -> Cluster:
    cluster = Cluster(name="large")
    services, slices = [], []
    for index in range(LARGE_COUNT):
        name = f"svc-{index:04d}"
        metadata = {"name": name, "namespace": "many", "uid": f"uid-{index}", "resourceVersion": "1"}
        services.append(
            {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": {"ports": [{"port": 80}]}}
        )
        slices.append(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": f"{name}-abcde",
                    "namespace": "many",
                    "labels": {"kubernetes.io/service-name": name},
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": [f"10.1.{index // 250}.{index % 250}"]}],
            }
        )
    cluster.objects[("", "services")] = services
    cluster.objects[("discovery.k8s.io", "endpointslices")] = slices
    return cluster


def _serve(server: TestServer | FakeApiServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    directory = tmp_path_factory.mktemp("kube")
    clusters = load_clusters(CLUSTERS)
    clusters["large"] = _large_cluster()
    token_file = directory / "token"
    token_file.write_text(TOKEN + "\n")
    issuer = make_ca()
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(issuer.certificate.public_bytes(serialization.Encoding.PEM))
    now = datetime.now(UTC)
    cert, key = issue_certificate(
        issuer, directory, "apiserver", now - timedelta(days=1), now + timedelta(days=30)
    )
    stop = threading.Event()
    plain = FakeApiServer(clusters, stop)
    secure = FakeApiServer(clusters, stop, tls=tls_context(cert, key))
    backend = TestServer(None, stop)
    for server in (plain, secure, backend):
        _serve(server)
    yield Kube(
        server=plain,
        secure=secure,
        token_file=token_file,
        ca_file=ca_file,
        backend_port=backend.server_address[1],
        directory=Path(directory),
    )
    stop.set()
    for server in (plain, secure, backend):
        server.shutdown()
        server.server_close()
