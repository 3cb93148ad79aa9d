"""The release's images in a registry, signed, and copied to a mirror.

Pushed over the registry HTTP API with ``tests/services/registry.py``'s ImagePusher, as
``docker push`` would: per repository one linux/amd64 image at the release tag, a cosign
signature at ``sha256-<hex>.sig``, and the same manifest bytes (so the same digests) in
the mirror, as ``skopeo copy`` leaves them.

"Untagging" deletes the manifest by digest (the registry runs with
``storage.delete.enabled``), which removes every tag pointing at it; restoring puts the
very same bytes back under the tag, so the digest is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from tests.services.registry import MANIFEST_ACCEPT, ImagePusher, digest_of

TAG = "1.1.0"
IMAGES = ("valeo/neuroerp-api", "valeo/neuroerp-web")
#: Compressed layer sizes per image: well under the 500 MB budget.
LAYERS = {"valeo/neuroerp-api": (1_400_000, 350_000), "valeo/neuroerp-web": (900_000, 120_000)}


@dataclass
class ReleaseImages:
    registry: ImagePusher
    mirror: ImagePusher
    digests: dict[str, str] = field(default_factory=dict)
    #: The manifest as stored (raw bytes and media type), to put it back after a delete.
    _manifests: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    def push(self) -> None:
        for name in IMAGES:
            image = self.registry.image(name, TAG, layer_sizes=LAYERS[name])
            self.registry.cosign_signature_tag(name, image)
            self.digests[name] = image.digest
            got = self.registry.client.get(f"/v2/{name}/manifests/{TAG}", headers={"Accept": MANIFEST_ACCEPT})
            got.raise_for_status()
            assert digest_of(got.content) == image.digest
            self._manifests[name] = (got.content, got.headers["content-type"])
            assert self.mirror.copy_from(self.registry, name, TAG) == image.digest

    def untag(self, name: str) -> None:
        """Delete the image's manifest by digest: its tag is gone from the registry."""
        deleted = self.registry.client.delete(f"/v2/{name}/manifests/{self.digests[name]}")
        assert deleted.status_code == 202, deleted.text
        gone = self.registry.client.get(f"/v2/{name}/manifests/{TAG}", headers={"Accept": MANIFEST_ACCEPT})
        assert gone.status_code == 404, gone.text

    def retag(self, name: str) -> None:
        body, media_type = self._manifests[name]
        digest = self.registry.put_raw(name, TAG, body, media_type)
        assert digest == self.digests[name]

    def references(self, host: str) -> list[str]:
        return [f"{host}/{name}:{TAG}" for name in IMAGES]

    def close(self) -> None:
        self.registry.close()
        self.mirror.close()


def registry_host(url: str) -> str:
    return httpx.URL(url).netloc.decode()
