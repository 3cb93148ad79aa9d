"""A registry over HTTPS with a private CA: ``ca_file`` trusts it, nothing else does."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from golive.checks.status import Status
from tests.checks.http.servers import issue_certificate, make_ca
from tests.services import require_service
from tests.services.registry import ImagePusher, Pushed, RegistryServer, unavailable_reason

from .support import registry, run_one

pytestmark = pytest.mark.services  # the real docker-registry


@dataclass(frozen=True)
class TlsRegistry:
    url: str
    ca_file: Path
    api: Pushed


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRegistry]:
    reason = unavailable_reason()
    if reason is not None:
        require_service("docker-registry", reason)
    directory = tmp_path_factory.mktemp("registry-tls")
    issuer = make_ca()
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(issuer.certificate.public_bytes(serialization.Encoding.PEM))
    now = datetime.now(UTC)
    cert, key = issue_certificate(
        issuer, directory, "registry", now - timedelta(days=1), now + timedelta(days=30)
    )
    with RegistryServer(tls=(cert, key)) as server:
        pusher = ImagePusher(server.url, verify=ssl.create_default_context(cafile=str(ca_file)))
        try:
            yield TlsRegistry(server.url, ca_file, pusher.image("valeo/api", "1.1.0", (20_000,)))
        finally:
            pusher.close()


async def test_a_private_ca_is_trusted_through_ca_file(tls_registry: TlsRegistry) -> None:
    result = await run_one(registry(tls_registry.url, "valeo/api", ca_file=str(tls_registry.ca_file)))
    assert result.status == Status.PASS, result.message
    assert result.observed["DIGESTS"] == {"valeo/api": tls_registry.api.digest}


async def test_without_the_ca_the_certificate_is_refused(tls_registry: TlsRegistry) -> None:
    result = await run_one(registry(tls_registry.url, "valeo/api"))
    assert result.status == Status.ERROR
    assert result.message.startswith(f"registry {tls_registry.url}: certificate verify failed")
    assert "TEMPORARY" not in result.observed


async def test_verification_can_be_switched_off(tls_registry: TlsRegistry) -> None:
    result = await run_one(registry(tls_registry.url, "valeo/api", verify_tls=False))
    assert result.status == Status.PASS, result.message
