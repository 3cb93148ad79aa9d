"""Trivy and Grype JSON reports, parsed without I/O into one shape of findings.

Trivy (``trivy image -f json``, SchemaVersion 2): almost every field is ``omitempty``, so
a clean result has no ``Vulnerabilities`` key and a clean image may have no ``Results``;
``FixedVersion`` is absent when there is no fix; results of class secret, config or
license carry no vulnerabilities and are skipped. Trivy before 0.20 wrote a bare list of
results (no image name); that is read too.

Grype (``grype -o json``): severities are title-case and ``Negligible`` counts as LOW; a
missing severity is UNKNOWN; an image scan names the image in ``source.target.userInput``
(what the user typed) plus ``tags`` and ``repoDigests``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import ProbeError
from .report_common import load_json, mapping, optional_mapping, optional_sequence, timestamp

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
_NOT_VULNERABILITIES = {"secret", "config", "license", "license-file"}
_IMAGE_SOURCES = ("docker:", "podman:", "registry:", "containerd:")


@dataclass(frozen=True)
class Finding:
    id: str
    package: str
    installed: str
    fixed: str | None
    severity: str
    fixable: bool
    #: Other ids of the same vulnerability (Grype reports a GHSA with its CVE here).
    aliases: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        """The same vulnerability in the same package version counts once."""
        return (self.id, self.package, self.installed)


@dataclass(frozen=True)
class ScanReport:
    scanner: str
    #: The scanned image (or path) as the report names it; None if it does not.
    target: str | None
    #: Normalised references the report answers to (see :func:`image_keys`).
    names: frozenset[str]
    findings: tuple[Finding, ...]
    produced_at: datetime | None


def parse_scan_report(content: bytes, source: str) -> ScanReport:
    document = load_json(content, source, "scan report")
    if isinstance(document, list):
        return _trivy({"Results": document}, source)
    if isinstance(document, dict):
        if "matches" in document:
            return _grype(document, source)
        if {"SchemaVersion", "Results", "ArtifactName"} & document.keys():
            return _trivy(document, source)
    raise ProbeError(
        f"{source}: neither a Trivy nor a Grype JSON report "
        "(expected SchemaVersion/Results from trivy -f json or matches from grype -o json)"
    )


def normalise_severity(value: Any) -> str:
    text = value.strip().upper() if isinstance(value, str) else ""
    if text == "NEGLIGIBLE":
        return "LOW"
    return text if text in SEVERITIES else "UNKNOWN"


def image_keys(reference: str) -> frozenset[str]:
    """Comparable spellings of an image reference.

    ``alpine`` and ``docker.io/library/alpine:latest`` are the same image; so are
    ``app:1.2@sha256:…`` and ``app@sha256:…``. Registry and repository are
    case-insensitive, tags and digests are not.
    """
    ref = reference.strip()
    for scheme in _IMAGE_SOURCES:
        rest = ref[len(scheme) :]
        if ref.startswith(scheme) and not rest[:1].isdigit():  # not "registry:5000/app"
            ref = rest
    name, _, digest = ref.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, "")
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first.lower(), rest
    else:
        registry, path = "docker.io", repository
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = "docker.io"
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    base = f"{registry}/{path.lower()}"
    keys = set()
    if tag or not digest:
        keys.add(f"{base}:{tag or 'latest'}")
    if digest:
        keys.add(f"{base}@{digest}")
    return frozenset(keys)


def _trivy(document: dict[str, Any], source: str) -> ScanReport:
    schema = document.get("SchemaVersion")
    if schema is not None and schema != 2:
        raise ProbeError(
            f"{source}: Trivy report SchemaVersion {schema!r} is not supported (this probe reads 2)"
        )
    findings: list[Finding] = []
    for i, raw_result in enumerate(optional_sequence(document.get("Results"), "Results", source)):
        result = mapping(raw_result, f"Results[{i}]", source)
        if str(result.get("Class", "")).lower() in _NOT_VULNERABILITIES:
            continue
        where = f"Results[{i}].Vulnerabilities"
        for j, raw_vuln in enumerate(optional_sequence(result.get("Vulnerabilities"), where, source)):
            vuln = mapping(raw_vuln, f"{where}[{j}]", source)
            identifier = vuln.get("VulnerabilityID")
            if not isinstance(identifier, str) or not identifier:
                raise ProbeError(f"{source}: {where}[{j}] has no VulnerabilityID")
            fixed = vuln.get("FixedVersion") or None
            findings.append(
                Finding(
                    id=identifier,
                    package=str(vuln.get("PkgName") or vuln.get("PkgID") or ""),
                    installed=str(vuln.get("InstalledVersion") or ""),
                    fixed=str(fixed) if fixed else None,
                    severity=normalise_severity(vuln.get("Severity")),
                    fixable=bool(fixed) or vuln.get("Status") == "fixed",
                )
            )
    target = document.get("ArtifactName") if isinstance(document.get("ArtifactName"), str) else None
    metadata = optional_mapping(document.get("Metadata"), "Metadata", source)
    references = [target, *_strings(metadata.get("RepoTags")), *_strings(metadata.get("RepoDigests"))]
    return ScanReport(
        scanner="trivy",
        target=target,
        names=_keys(references),
        findings=tuple(findings),
        produced_at=timestamp(document.get("CreatedAt")),
    )


def _grype(document: dict[str, Any], source: str) -> ScanReport:
    findings: list[Finding] = []
    for i, raw_match in enumerate(optional_sequence(document.get("matches"), "matches", source)):
        match = mapping(raw_match, f"matches[{i}]", source)
        vuln = mapping(match.get("vulnerability"), f"matches[{i}].vulnerability", source)
        identifier = vuln.get("id")
        if not isinstance(identifier, str) or not identifier:
            raise ProbeError(f"{source}: matches[{i}].vulnerability has no id")
        artifact = optional_mapping(match.get("artifact"), f"matches[{i}].artifact", source)
        fix = optional_mapping(vuln.get("fix"), f"matches[{i}].vulnerability.fix", source)
        versions = _strings(fix.get("versions"))
        related = optional_sequence(
            match.get("relatedVulnerabilities"), f"matches[{i}].relatedVulnerabilities", source
        )
        aliases = tuple(r["id"] for r in related if isinstance(r, dict) and isinstance(r.get("id"), str))
        findings.append(
            Finding(
                id=identifier,
                package=str(artifact.get("name") or ""),
                installed=str(artifact.get("version") or ""),
                fixed=", ".join(versions) or None,
                severity=normalise_severity(vuln.get("severity")),
                fixable=fix.get("state") == "fixed",
                aliases=aliases,
            )
        )
    scanned = optional_mapping(document.get("source"), "source", source)
    target_block = scanned.get("target")
    target: str | None = None
    references: list[str | None] = []
    if isinstance(target_block, dict):  # an image: what the user typed, tags, digests
        target = target_block.get("userInput") if isinstance(target_block.get("userInput"), str) else None
        references = [target, *_strings(target_block.get("tags")), *_strings(target_block.get("repoDigests"))]
    elif isinstance(target_block, str):  # a directory, file or SBOM path
        target = target_block
        references = [target]
    descriptor = optional_mapping(document.get("descriptor"), "descriptor", source)
    return ScanReport(
        scanner="grype",
        target=target,
        names=_keys(references),
        findings=tuple(findings),
        produced_at=timestamp(descriptor.get("timestamp")),
    )


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _keys(references: list[str | None]) -> frozenset[str]:
    return frozenset(key for ref in references if ref for key in image_keys(ref))
