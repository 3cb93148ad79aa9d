"""What the ``registry`` probe reads out of manifests, without I/O.

Size convention (the registry's own numbers, no image is pulled): the compressed size of
one platform's image is Σ ``layers[].size`` + ``config.size`` of its image manifest, in
MB of 1,000,000 bytes (the unit ``docker images`` and registry UIs use). The ``size`` of
an index entry is the size of the child *manifest* document, so every child is fetched.
Layers shared between platforms or images count for each one: it is what a node pulls.

Platforms of an index are its entries' ``platform`` (``os/architecture[/variant]``).
BuildKit's attestation entries (``unknown/unknown``, annotation
``vnd.docker.reference.type: attestation-manifest``) are provenance, not a platform:
they are skipped.

Signatures are recognised on the descriptors of the referrers API (or of the
``sha256-<hex>`` fallback tag index): cosign v3's bundle (``artifactType``
``application/vnd.dev.sigstore.bundle.v0.3+json`` whose predicate type is cosign's
signing predicate, or not stated) and cosign's experimental OCI 1.1 mode
(``application/vnd.dev.cosign.artifact.sig.v1+json``). A bundle with another predicate
type is an attestation (SLSA provenance, an SBOM …), not a signature.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from ..errors import PermanentProbeError

MB = 1_000_000
COSIGN_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
COSIGN_OCI11_SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
_BUNDLE_PREDICATE = "dev.sigstore.bundle.predicateType"
_REFERENCE_TYPE = "vnd.docker.reference.type"
#: From distribution's reference grammar: path components joined by ``/``.
NAME = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*")
NAME_MAX_LENGTH = 255
TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
IMAGE_CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)


def is_attestation(descriptor: Mapping[str, Any]) -> bool:
    annotations = descriptor.get("annotations") or {}
    if isinstance(annotations, Mapping) and annotations.get(_REFERENCE_TYPE) == "attestation-manifest":
        return True
    platform = descriptor.get("platform") or {}
    return isinstance(platform, Mapping) and (platform.get("os"), platform.get("architecture")) == (
        "unknown",
        "unknown",
    )


def platform_name(platform: Any) -> str:
    """``linux/arm64/v8``; ``unknown`` when a manifest or index entry does not say."""
    if not isinstance(platform, Mapping) or not platform.get("os") or not platform.get("architecture"):
        return "unknown"
    parts = [platform["os"], platform["architecture"]]
    if platform.get("variant"):
        parts.append(platform["variant"])
    return "/".join(str(p) for p in parts)


def children(index: Mapping[str, Any], what: str) -> list[tuple[str, str]]:
    """(platform, digest) of an index's entries, attestations left out."""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise PermanentProbeError(f"{what}: the index has no 'manifests' list")
    found: list[tuple[str, str]] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("digest"), str):
            raise PermanentProbeError(f"{what}: an index entry has no digest")
        if not is_attestation(entry):
            found.append((platform_name(entry.get("platform")), entry["digest"]))
    return found


def image_bytes(manifest: Mapping[str, Any], what: str) -> int:
    """Σ layers[].size + config.size: the compressed size of one platform's image."""
    layers = manifest.get("layers")
    config = manifest.get("config")
    if not isinstance(layers, list) or not isinstance(config, Mapping):
        raise PermanentProbeError(f"{what}: the image manifest lacks 'layers' or 'config'")
    sizes = [d.get("size") if isinstance(d, Mapping) else None for d in [*layers, config]]
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
        raise PermanentProbeError(f"{what}: a layer or the config has no valid size")
    return sum(s for s in sizes if isinstance(s, int))


def config_digest(manifest: Mapping[str, Any]) -> str | None:
    """The config blob's digest when it is an image config (it names the platform)."""
    config = manifest.get("config")
    if isinstance(config, Mapping) and config.get("mediaType") in IMAGE_CONFIG_TYPES:
        digest = config.get("digest")
        return digest if isinstance(digest, str) else None
    return None


def is_signature(descriptor: Mapping[str, Any]) -> bool:
    artifact_type = descriptor.get("artifactType")
    if artifact_type == COSIGN_OCI11_SIGNATURE:
        return True
    if artifact_type != COSIGN_BUNDLE:
        return False
    annotations = descriptor.get("annotations") or {}
    predicate = annotations.get(_BUNDLE_PREDICATE) if isinstance(annotations, Mapping) else None
    return predicate in (None, COSIGN_SIGN_PREDICATE)


def referrers_tag(digest: str) -> str:
    """The OCI 1.1 fallback tag for a digest's referrers, ``sha256-<hex>``."""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm[:32]}-{encoded[:64]}"


def cosign_signature_tag(digest: str) -> str:
    """Where cosign v1/v2 put a signature: the tag ``sha256-<hex>.sig``."""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}-{encoded}.sig"


def similar_tags(tag: str, tags: list[str], limit: int = 3) -> list[str]:
    """Tags that look like ``tag`` (``v1.1.0`` for ``1.1.0``), for a helpful MISSING message."""
    return difflib.get_close_matches(tag, tags, n=limit, cutoff=0.6)


def megabytes(size: int) -> float:
    return round(size / MB, 3)


def valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX_LENGTH and NAME.fullmatch(name) is not None


def valid_tag(tag: str) -> bool:
    return TAG.fullmatch(tag) is not None
