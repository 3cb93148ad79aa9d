"""Trivy and Grype reports, parsed without I/O into one shape of findings.

Trivy (``trivy image -f json``, SchemaVersion 2): almost every field is ``omitempty``, so
a clean result has no ``Vulnerabilities`` key and a clean image may have no ``Results``;
``FixedVersion`` is absent when there is no fix; results of class secret, config or
license carry no vulnerabilities and are skipped. Trivy before 0.20 wrote a bare list of
results (the image named only in the OS result's ``Target``), or ``null`` when nothing
was found; both are read.

Trivy's Kubernetes report (``trivy k8s -f json``, ``--report all`` or ``summary``) holds
one scan per workload: its images in ``Metadata`` (``RepoTags``/``RepoDigests``) and the
findings in ``Results``. Trivy's CycloneDX (``trivy image --format cyclonedx --scanners
vuln``) names the image in ``metadata.component`` and lists ``vulnerabilities`` against
``components``; the severity is the rating of the vulnerability's own source, as in
Trivy's JSON. A CycloneDX SBOM without ``vulnerabilities`` is no scan and is refused.

Grype (``grype -o json``): severities are title-case and ``Negligible`` counts as LOW; a
missing severity is UNKNOWN; an image scan names the image in ``source.target.userInput``
(what the user typed) plus ``tags`` and ``repoDigests``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import PermanentProbeError
from .documents import load_json, mapping, optional_mapping, optional_sequence, timestamp

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
_NOT_VULNERABILITIES = {"secret", "config", "license", "license-file"}
_IMAGE_SOURCES = ("docker:", "podman:", "registry:", "containerd:")
_OS_TARGET = re.compile(r"(\S+) \([^()]*\)")
_TRIVY_IMAGE_PROPERTIES = frozenset({"aquasecurity:trivy:RepoTag", "aquasecurity:trivy:RepoDigest"})
_DOCKER_HUB = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


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
    #: The image references the report answers to (see :func:`answers_for`).
    references: tuple[ImageRef, ...]
    findings: tuple[Finding, ...]
    produced_at: datetime | None


def parse_scan_reports(content: bytes, source: str) -> list[ScanReport]:
    """Every image scan in one document: one for most formats, one per workload for
    Trivy's Kubernetes report."""
    document = load_json(content, source, "scan report")
    if isinstance(document, dict) and "ClusterName" in document:
        return _trivy_kubernetes(document, source)
    return [_single(document, source)]


def parse_scan_report(content: bytes, source: str) -> ScanReport:
    """One image scan; a Kubernetes report of several workloads is refused here."""
    reports = parse_scan_reports(content, source)
    if len(reports) != 1:
        raise PermanentProbeError(f"{source}: holds {len(reports)} image scans, not one")
    return reports[0]


def _single(document: Any, source: str) -> ScanReport:
    if document is None:
        # Trivy before 0.20 wrote a bare `null` when no result had anything to report.
        return ScanReport("trivy", None, (), (), None)
    if isinstance(document, list):
        return _trivy({"Results": document}, source)
    if isinstance(document, dict):
        if "matches" in document:
            return _grype(document, source)
        if document.get("bomFormat") == "CycloneDX":
            return _cyclonedx(document, source)
        if {"SchemaVersion", "Results", "ArtifactName"} & document.keys():
            return _trivy(document, source)
    raise PermanentProbeError(
        f"{source}: neither a Trivy nor a Grype JSON report (expected trivy image -f json, "
        "trivy k8s -f json, trivy image -f cyclonedx --scanners vuln, or grype -o json)"
    )


def normalise_severity(value: Any) -> str:
    text = value.strip().upper() if isinstance(value, str) else ""
    if text == "NEGLIGIBLE":
        return "LOW"
    return text if text in SEVERITIES else "UNKNOWN"


@dataclass(frozen=True)
class ImageRef:
    """An image reference after normalising: ``alpine`` is ``docker.io/library/alpine``."""

    registry: str
    #: The repository path, lower case (``valeo/web``, ``library/alpine``).
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.path}"


def parse_reference(reference: str) -> ImageRef:
    """Split a reference into registry, repository path, tag and digest.

    ``docker.io``, ``index.docker.io`` and ``registry-1.docker.io`` are one registry, and
    a one-part Docker Hub path is in ``library/``. Registry and repository are
    case-insensitive, tags and digests are not. A scanner's source prefix
    (``docker:``, ``registry:`` …) is dropped, but ``registry:5000/app`` is a host.
    """
    ref = reference.strip()
    for scheme in _IMAGE_SOURCES:
        rest = ref[len(scheme) :]
        if ref.startswith(scheme) and not rest[:1].isdigit():  # not "registry:5000/app"
            ref = rest
    name, _, digest = ref.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, "")
    registry, path = _split_registry(repository)
    registry = registry or "docker.io"
    if registry in _DOCKER_HUB:
        registry = "docker.io"
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return ImageRef(registry, path.lower(), tag or None, digest or None)


def is_repository_name(reference: str) -> bool:
    """``valeo/web`` or ``ghcr.io/valeo/web``: no tag, no digest."""
    target = parse_reference(reference)
    return target.tag is None and target.digest is None


def names_registry(reference: str) -> bool:
    """Whether a reference starts with a registry host (``ghcr.io/…``, ``localhost:5000/…``)."""
    return bool(_split_registry(reference.strip().partition("@")[0])[0])


def answers_for(wanted: str, references: Sequence[ImageRef], release_tag: str | None) -> bool:
    """Whether a report that names ``references`` is a scan of the image ``wanted``.

    - A repository name (``valeo/web``, no tag, no digest) is matched on any registry
      unless it names one (``ghcr.io/valeo/web``), at ``release_tag`` (any tag when
      None). A report that names the repository only by digest (``…@sha256:…``) was
      scanned by digest and counts; one whose tags are all other tags does not.
    - A full reference (with a tag or a digest) matches a reference with the same
      registry, repository and tag or digest.
    """
    text = wanted.strip()
    target = parse_reference(text)
    if target.tag or target.digest:
        return any(
            ref.repository == target.repository
            and (
                (target.tag is not None and ref.tag == target.tag)
                or (target.digest is not None and ref.digest == target.digest)
            )
            for ref in references
        )
    with_host = names_registry(text)
    same = [ref for ref in references if _same_repository(ref, target, with_host)]
    tagged = [ref for ref in same if ref.tag is not None]
    if not tagged:
        return any(ref.digest for ref in same)
    return release_tag is None or any(ref.tag == release_tag for ref in tagged)


def _same_repository(ref: ImageRef, target: ImageRef, with_host: bool) -> bool:
    if with_host:
        return ref.repository == target.repository
    return ref.path.removeprefix("library/") == target.path.removeprefix("library/")


def _split_registry(repository: str) -> tuple[str, str]:
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first.lower(), rest
    return "", repository


def _trivy(document: dict[str, Any], source: str) -> ScanReport:
    schema = document.get("SchemaVersion")
    if schema is not None and schema != 2:
        raise PermanentProbeError(
            f"{source}: Trivy report SchemaVersion {schema!r} is not supported (this probe reads 2)"
        )
    results = optional_sequence(document.get("Results"), "Results", source)
    findings = _trivy_findings(results, "Results", source)
    target = document.get("ArtifactName") if isinstance(document.get("ArtifactName"), str) else None
    metadata = optional_mapping(document.get("Metadata"), "Metadata", source)
    references = [target, *_strings(metadata.get("RepoTags")), *_strings(metadata.get("RepoDigests"))]
    if target is None:  # the legacy list: the OS result's Target names the image
        references += _os_targets(results)
        target = next((ref for ref in references if ref), None)
    return ScanReport(
        scanner="trivy",
        target=target,
        references=_references(references),
        findings=tuple(findings),
        produced_at=timestamp(document.get("CreatedAt")),
    )


def _trivy_findings(results: list[Any], where_results: str, source: str) -> list[Finding]:
    findings: list[Finding] = []
    for i, raw_result in enumerate(results):
        result = mapping(raw_result, f"{where_results}[{i}]", source)
        if str(result.get("Class", "")).lower() in _NOT_VULNERABILITIES:
            continue
        where = f"{where_results}[{i}].Vulnerabilities"
        for j, raw_vuln in enumerate(optional_sequence(result.get("Vulnerabilities"), where, source)):
            vuln = mapping(raw_vuln, f"{where}[{j}]", source)
            identifier = vuln.get("VulnerabilityID")
            if not isinstance(identifier, str) or not identifier:
                raise PermanentProbeError(f"{source}: {where}[{j}] has no VulnerabilityID")
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
    return findings


def _os_targets(results: list[Any]) -> list[str]:
    """``registry/app:1.1.0 (alpine 3.20.3)`` → ``registry/app:1.1.0``: Trivy names the
    image in the Target of the operating-system result."""
    found = []
    for result in results:
        if isinstance(result, dict) and isinstance(result.get("Target"), str):
            match = _OS_TARGET.fullmatch(result["Target"].strip())
            if match:
                found.append(match.group(1))
    return found


def _trivy_kubernetes(document: dict[str, Any], source: str) -> list[ScanReport]:
    """``trivy k8s --report all -f json`` (Resources) or ``--report summary`` (Findings):
    one scan per workload whose images were scanned for vulnerabilities. Resources with
    misconfigurations only are no image scan. Metadata is an object in older Trivy
    versions and a list (one per container image) in newer ones."""
    key = "Resources" if "Resources" in document else "Findings"
    reports: list[ScanReport] = []
    for i, raw in enumerate(optional_sequence(document.get(key), key, source)):
        where = f"{key}[{i}]"
        resource = mapping(raw, where, source)
        results = optional_sequence(resource.get("Results"), f"{where}.Results", source)
        if not any(_is_package_result(r) for r in results):
            continue
        raw_metadata = resource.get("Metadata")
        metadata = raw_metadata if isinstance(raw_metadata, list) else [raw_metadata]
        references: list[str | None] = []
        for entry in metadata:
            block = optional_mapping(entry, f"{where}.Metadata", source)
            references += [*_strings(block.get("RepoTags")), *_strings(block.get("RepoDigests"))]
        references += _os_targets(results)
        workload = "/".join(str(resource.get(k) or "") for k in ("Namespace", "Kind", "Name"))
        reports.append(
            ScanReport(
                scanner="trivy",
                target=next((r for r in references if r), workload),
                references=_references(references),
                findings=tuple(_trivy_findings(results, f"{where}.Results", source)),
                produced_at=None,
            )
        )
    return reports


def _is_package_result(result: Any) -> bool:
    if not isinstance(result, dict):
        return False
    return str(result.get("Class", "")).lower() in ("os-pkgs", "lang-pkgs") or bool(
        result.get("Vulnerabilities")
    )


def _cyclonedx(document: dict[str, Any], source: str) -> ScanReport:
    """``trivy image --format cyclonedx --scanners vuln``: packages in ``components``,
    findings in ``vulnerabilities`` pointing at them through ``affects[].ref``."""
    if "vulnerabilities" not in document:
        raise PermanentProbeError(
            f"{source}: a CycloneDX SBOM without vulnerabilities is no scan; write it with "
            "trivy image --format cyclonedx --scanners vuln (or use trivy image -f json)"
        )
    metadata = optional_mapping(document.get("metadata"), "metadata", source)
    packages: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(optional_sequence(document.get("components"), "components", source)):
        component = mapping(raw, f"components[{i}]", source)
        if isinstance(component.get("bom-ref"), str):
            packages[component["bom-ref"]] = component
    findings: list[Finding] = []
    where = "vulnerabilities"
    for i, raw in enumerate(optional_sequence(document.get(where), where, source)):
        vuln = mapping(raw, f"{where}[{i}]", source)
        identifier = vuln.get("id")
        if not isinstance(identifier, str) or not identifier:
            raise PermanentProbeError(f"{source}: {where}[{i}] has no id")
        fixed = _recommended_version(vuln.get("recommendation"))
        severity = _cyclonedx_severity(vuln, f"{where}[{i}]", source)
        affects = optional_sequence(vuln.get("affects"), f"{where}[{i}].affects", source)
        for affected in affects or [{}]:
            package = packages.get(affected.get("ref", "")) if isinstance(affected, dict) else None
            package = package or {}
            findings.append(
                Finding(
                    id=identifier,
                    package=str(package.get("name") or ""),
                    installed=str(package.get("version") or ""),
                    fixed=fixed,
                    severity=severity,
                    fixable=fixed is not None,
                )
            )
    component = optional_mapping(metadata.get("component"), "metadata.component", source)
    name = component.get("name") if isinstance(component.get("name"), str) else None
    properties = optional_sequence(component.get("properties"), "metadata.component.properties", source)
    references: list[str | None] = [name]
    for prop in properties:
        if isinstance(prop, dict) and prop.get("name") in _TRIVY_IMAGE_PROPERTIES:
            references.append(prop.get("value") if isinstance(prop.get("value"), str) else None)
    return ScanReport(
        scanner=_cyclonedx_tool(metadata),
        target=name,
        references=_references(references),
        findings=tuple(findings),
        produced_at=timestamp(metadata.get("timestamp")),
    )


def _cyclonedx_severity(vuln: dict[str, Any], where: str, source: str) -> str:
    """The rating of the vulnerability's own source (the distribution's advisory, as
    Trivy's JSON ``Severity``), else NVD's CVSS v3 rating, else the worst rating."""
    ratings = [
        r for r in optional_sequence(vuln.get("ratings"), f"{where}.ratings", source) if isinstance(r, dict)
    ]
    origin = optional_mapping(vuln.get("source"), f"{where}.source", source).get("name")

    def by(name: Any) -> list[dict[str, Any]]:
        return [r for r in ratings if isinstance(r.get("source"), dict) and r["source"].get("name") == name]

    nvd = by("nvd")
    chosen = by(origin) or [r for r in nvd if str(r.get("method", "")).startswith("CVSSv3")] or nvd or ratings
    severities = [normalise_severity(r.get("severity")) for r in chosen]
    known = [s for s in severities if s != "UNKNOWN"]
    return min(known, key=SEVERITIES.index) if known else "UNKNOWN"


def _recommended_version(recommendation: Any) -> str | None:
    """Trivy writes ``Upgrade <package> to version <fixed>`` when a fix exists."""
    if not isinstance(recommendation, str):
        return None
    _, marker, fixed = recommendation.partition(" to version ")
    return fixed.strip() or None if marker else None


def _cyclonedx_tool(metadata: dict[str, Any]) -> str:
    tools = metadata.get("tools")
    listed = tools.get("components") if isinstance(tools, dict) else tools
    for tool in listed if isinstance(listed, list) else []:
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            return str(tool["name"]).lower()
    return "cyclonedx"


def _grype(document: dict[str, Any], source: str) -> ScanReport:
    findings: list[Finding] = []
    for i, raw_match in enumerate(optional_sequence(document.get("matches"), "matches", source)):
        match = mapping(raw_match, f"matches[{i}]", source)
        vuln = mapping(match.get("vulnerability"), f"matches[{i}].vulnerability", source)
        identifier = vuln.get("id")
        if not isinstance(identifier, str) or not identifier:
            raise PermanentProbeError(f"{source}: matches[{i}].vulnerability has no id")
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
        references=_references(references),
        findings=tuple(findings),
        produced_at=timestamp(descriptor.get("timestamp")),
    )


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _references(references: Sequence[str | None]) -> tuple[ImageRef, ...]:
    return tuple(dict.fromkeys(parse_reference(ref) for ref in references if ref))
