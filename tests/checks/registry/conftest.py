"""The release's images, pushed once per session into two real registries: an open one
(the primary) and one with htpasswd Basic auth (the mirror, and the target of the
credential tests). The mirror holds valeo/api and valeo/web, not valeo/worker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.services.registry import (
    REGISTRY_PASSWORD,
    REGISTRY_USER,
    ImagePusher,
    Pushed,
    RegistryServer,
    auth_registry_server,
    registry_server,
)

__all__ = ["auth_registry_server", "registry_server"]

COSIGN_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
COSIGN_OCI11 = "application/vnd.dev.cosign.artifact.sig.v1+json"
SIGN_PREDICATE = {
    "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
    "dev.sigstore.bundle.content": "dsse-envelope",
}
SLSA_PREDICATE = {
    "dev.sigstore.bundle.predicateType": "https://slsa.dev/provenance/v1",
    "dev.sigstore.bundle.content": "dsse-envelope",
}


@dataclass(frozen=True)
class Scenario:
    url: str
    mirror_url: str
    #: valeo/api:1.1.0 — one OCI image, 2 layers; signed the cosign v1/v2 way (.sig tag).
    api: Pushed
    #: valeo/web:1.1.0 — OCI index amd64 + arm64 + a BuildKit attestation; signed with a
    #: cosign v3 bundle referrer, listed at the sha256-<hex> tag (no referrers API here).
    web: Pushed
    #: valeo/worker:1.1.0 — Docker v2 manifest; only an SLSA attestation bundle: unsigned.
    worker: Pushed
    #: valeo/cli:1.1.0 — Docker manifest list (amd64); cosign OCI 1.1 mode signature.
    cli: Pushed
    #: valeo/batch has only the tag 1.1.0-rc1.
    batch_rc: Pushed


@pytest.fixture(scope="session")
def scenario(registry_server: RegistryServer, auth_registry_server: RegistryServer) -> Iterator[Scenario]:
    primary = ImagePusher(registry_server.url)
    mirror = ImagePusher(auth_registry_server.url, auth=(REGISTRY_USER, REGISTRY_PASSWORD))
    try:
        api = primary.image("valeo/api", "1.1.0", (1_200_000, 300_000))
        primary.cosign_signature_tag("valeo/api", api)

        amd64 = primary.image("valeo/web", "amd64-1.1.0", (800_000, 200_000))
        arm64 = primary.image("valeo/web", "arm64-1.1.0", (700_000, 150_000), platform=("linux", "arm64"))
        web = primary.index("valeo/web", "1.1.0", [amd64, arm64])
        bundle = primary.artifact(
            "valeo/web", "bundle", COSIGN_BUNDLE, subject=web, annotations=SIGN_PREDICATE
        )
        primary.referrers_tag_index("valeo/web", web, [(bundle, COSIGN_BUNDLE, SIGN_PREDICATE)])

        worker = primary.image("valeo/worker", "1.1.0", (400_000, 100_000), docker=True)
        provenance = primary.artifact(
            "valeo/worker", "provenance", COSIGN_BUNDLE, subject=worker, annotations=SLSA_PREDICATE
        )
        primary.referrers_tag_index("valeo/worker", worker, [(provenance, COSIGN_BUNDLE, SLSA_PREDICATE)])

        cli_amd64 = primary.image("valeo/cli", "amd64", (250_000, 50_000), docker=True)
        cli = primary.index("valeo/cli", "1.1.0", [cli_amd64], attestation=False, docker=True)
        signature = primary.artifact("valeo/cli", "sig", COSIGN_OCI11, subject=cli)
        primary.referrers_tag_index("valeo/cli", cli, [(signature, COSIGN_OCI11, {})])

        batch_rc = primary.image("valeo/batch", "1.1.0-rc1", (100_000, 50_000))

        for name in ("valeo/api", "valeo/web"):
            mirror.copy_from(primary, name, "1.1.0")
        yield Scenario(registry_server.url, auth_registry_server.url, api, web, worker, cli, batch_rc)
    finally:
        primary.close()
        mirror.close()
