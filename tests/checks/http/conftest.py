"""Session-wide real servers: plain HTTP and three HTTPS servers with test certificates."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from .servers import TestServer, issue_certificate, make_ca, tls_context


@dataclass(frozen=True)
class Servers:
    http: str
    #: Certificate from the test CA, valid for a year.
    https: str
    expiring: str
    expired: str
    #: Valid certificate, and requires a client certificate from the test CA.
    mutual: str
    ca_file: Path
    client_cert: Path
    client_key: Path


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    directory = tmp_path_factory.mktemp("tls")
    issuer = make_ca()
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(issuer.certificate.public_bytes(serialization.Encoding.PEM))
    now = datetime.now(UTC)
    periods = {
        "valid": (now - timedelta(days=1), now + timedelta(days=365)),
        "expiring": (now - timedelta(days=1), now + timedelta(days=5)),
        "expired": (now - timedelta(days=30), now - timedelta(days=1)),
    }
    stop = threading.Event()
    started: dict[str, TestServer] = {"http": TestServer(None, stop)}
    for name, (not_before, not_after) in periods.items():
        cert, key = issue_certificate(issuer, directory, name, not_before, not_after)
        started[name] = TestServer(tls_context(cert, key), stop)
    cert, key = issue_certificate(issuer, directory, "mutual", *periods["valid"])
    started["mutual"] = TestServer(tls_context(cert, key, client_ca=ca_file), stop)
    client_cert, client_key = issue_certificate(
        issuer, directory, "golive-probe", *periods["valid"], client=True
    )
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        for s in started.values()
    ]
    for thread in threads:
        thread.start()
    yield Servers(
        http=started["http"].base_url,
        https=started["valid"].base_url,
        expiring=started["expiring"].base_url,
        expired=started["expired"].base_url,
        mutual=started["mutual"].base_url,
        ca_file=ca_file,
        client_cert=client_cert,
        client_key=client_key,
    )
    stop.set()
    for server in started.values():
        server.shutdown()
        server.server_close()
