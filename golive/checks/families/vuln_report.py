"""``vuln_report``: Trivy / Grype scan reports — vulnerabilities by severity, per image.

- ``reports`` are paths (glob patterns allowed, relative to the checklist) or URLs. A
  pattern that matches no file is an ERROR: a scan that is not there proves nothing.
- ``images`` each need a report: a report answers for the images it names (Trivy
  ``ArtifactName`` and ``Metadata.RepoTags``/``RepoDigests``, Grype
  ``source.target.userInput``/``tags``/``repoDigests``, each workload of a Trivy
  Kubernetes report, a CycloneDX ``metadata.component``). Write an image as users do:
  a repository name (``valeo/web``) matches a report of that repository on any registry
  (``registry.example:5000/valeo/web:1.1.0``, or ``…/valeo/web@sha256:…`` scanned by
  digest) at ``tag``, the release version unless set; a registry host before it
  (``ghcr.io/valeo/web``) pins the registry. A full reference (with a tag or a digest)
  matches that reference, the registry host normalised (``docker.io``,
  ``index.docker.io`` and ``library/`` are Docker Hub). Those without a report are
  MISSING_IMAGES, and the message names them.
- The same vulnerability in the same package version counts once across all reports,
  however many results, layers, images or scanners list it; its worst severity counts.
- ``waivers`` accept a vulnerability (by its id, or an alias such as the CVE of a GHSA)
  until the end of their ``expires`` day, UTC. An expired waiver no longer applies and
  is listed in EXPIRED_WAIVERS.
- The evidence is as old as the OLDEST report: the set is only as fresh as its stalest
  scan. A report's time is Trivy ``CreatedAt`` / Grype ``descriptor.timestamp``, else
  the file's mtime or the URL's Last-Modified.
"""

from __future__ import annotations

import asyncio
import glob
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..clients.documents import Document, SourceAuth, is_url, read_document
from ..clients.http import resolve_path
from ..errors import PermanentProbeError
from ..formats.vulnerabilities import (
    SEVERITIES,
    Finding,
    ScanReport,
    answers_for,
    is_repository_name,
    parse_scan_reports,
)
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register

_TOP = 5
_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}  # CRITICAL first


class VulnWaiver(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The vulnerability id as the scanner reports it (CVE-…, GHSA-…).
    id: str = Field(min_length=1)
    #: The last day (UTC) the waiver applies.
    expires: date
    reason: str = Field(min_length=1)


class VulnReportConfig(ProbeConfig):
    type: Literal["vuln_report"] = "vuln_report"
    reports: list[str] = Field(min_length=1)
    #: The images that need a scan: repository names (``valeo/web``, matched at ``tag`` on
    #: any registry) or full references (``ghcr.io/valeo/web:1.1.0``, matched exactly).
    images: list[str] = Field(default_factory=list)
    #: The tag a repository name in ``images`` is matched at; default the release version.
    tag: str | None = None
    #: Count only vulnerabilities that have a fix (Trivy FixedVersion or Status fixed,
    #: Grype fix.state fixed).
    fixable_only: bool = False
    waivers: list[VulnWaiver] = Field(default_factory=list)
    auth: SourceAuth | None = None


async def gather(config: VulnReportConfig, context: ProbeContext) -> Observation:
    documents = await _read_all(_expand(config.reports, context), context, config.auth)
    reports = [
        (document, report)
        for document in documents
        for report in parse_scan_reports(document.content, document.source)
    ]
    today = context.now().astimezone(UTC).date()  # waivers run to the end of their day, UTC
    tag = config.tag or context.release_version
    values, message = summarise(
        [(document.source, report) for document, report in reports], config, today, release_tag=tag
    )
    oldest = min(
        [report.produced_at or document.produced_at for document, report in reports]
        or [document.produced_at for document in documents]
    )
    sources = [document.source for document in documents]
    shown = ", ".join(sources)
    return Observation(
        values=values,
        evidence=Evidence(
            source=shown if len(shown) <= 300 else f"{len(sources)} reports: {shown[:280]}…",
            observed_at=oldest,
            link=sources[0] if len(sources) == 1 and is_url(sources[0]) else None,
        ),
        message=message,
    )


def summarise(
    reports: Sequence[tuple[str, ScanReport]],
    config: VulnReportConfig,
    today: date,
    *,
    release_tag: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Pure: counts after fixable_only and waivers, per image, missing images, worst findings."""
    active = {w.id.upper() for w in config.waivers if today <= w.expires}
    expired = [w for w in config.waivers if today > w.expires]
    merged: dict[tuple[str, str, str], Finding] = {}
    found_in: dict[tuple[str, str, str], str] = {}
    per_image: dict[str, dict[tuple[str, str, str], Finding]] = {}
    for source, report in reports:
        image = report.target or source
        image_findings = per_image.setdefault(image, {})
        for finding in report.findings:
            if config.fixable_only and not finding.fixable:
                continue
            merged[finding.key] = _worse(merged.get(finding.key), finding)
            image_findings[finding.key] = _worse(image_findings.get(finding.key), finding)
            found_in.setdefault(finding.key, image)

    def waived(finding: Finding) -> bool:
        return any(i.upper() in active for i in (finding.id, *finding.aliases))

    counted = [f for f in merged.values() if not waived(f)]
    totals = Counter(f.severity for f in counted)
    missing = [
        image
        for image in config.images
        if not any(answers_for(image, report.references, release_tag) for _, report in reports)
    ]
    worst = sorted(counted, key=lambda f: (_RANK[f.severity], not f.fixable, f.id, f.package))
    values: dict[str, Any] = {severity: totals.get(severity, 0) for severity in SEVERITIES}
    values.update(
        WAIVED=len(merged) - len(counted),
        EXPIRED_WAIVERS=[w.id for w in expired],
        REPORTS=len({source for source, _ in reports}),
        MISSING_IMAGES=missing,
        PER_IMAGE={
            image: _counts(f for f in findings.values() if not waived(f))
            for image, findings in per_image.items()
        },
        TOP=[
            {
                "id": f.id,
                "severity": f.severity,
                "package": f.package,
                "installed": f.installed,
                "fixed": f.fixed,
                "image": found_in[f.key],
            }
            for f in worst[:_TOP]
        ],
    )
    return values, _message(values, reports, expired, release_tag)


def _message(
    values: dict[str, Any],
    reports: Sequence[tuple[str, ScanReport]],
    expired: list[VulnWaiver],
    release_tag: str | None,
) -> str:
    scanners = Counter(report.scanner for _, report in reports)
    parts = [
        f"{values['REPORTS']} report(s) ({', '.join(f'{n} {s}' for s, n in sorted(scanners.items()))}): "
        + ", ".join(f"{values[s]} {s.lower()}" for s in SEVERITIES)
    ]
    if values["WAIVED"]:
        parts.append(f"{values['WAIVED']} waived")
    if expired:
        parts.append(
            "expired waivers (no longer applied): "
            + ", ".join(f"{w.id} (expired {w.expires.isoformat()})" for w in expired)
        )
    if values["MISSING_IMAGES"]:
        missing = ", ".join(values["MISSING_IMAGES"])
        if release_tag and any(is_repository_name(image) for image in values["MISSING_IMAGES"]):
            missing += f" (repository names are matched at tag {release_tag})"
        parts.append(f"no report for: {missing}")
    if values["TOP"]:
        worst = [f"{t['id']} {t['severity']} in {t['package']} {t['installed']}" for t in values["TOP"][:3]]
        parts.append("worst: " + ", ".join(worst))
    return "; ".join(parts)


def _worse(known: Finding | None, new: Finding) -> Finding:
    """Merge two sightings of the same finding: the worst severity, fixable if either is."""
    if known is None:
        return new
    severity = min(known.severity, new.severity, key=_RANK.__getitem__)
    fixed = known.fixed or new.fixed
    aliases = tuple(dict.fromkeys((*known.aliases, *new.aliases)))
    return Finding(
        known.id, known.package, known.installed, fixed, severity, known.fixable or new.fixable, aliases
    )


def _counts(findings: Iterable[Finding]) -> dict[str, int]:
    totals = Counter(f.severity for f in findings)
    return {severity: totals.get(severity, 0) for severity in SEVERITIES}


def _expand(patterns: list[str], context: ProbeContext) -> list[str]:
    """Paths and URLs as given; glob patterns replaced by the files they match, sorted."""
    found: list[str] = []
    for pattern in patterns:
        if is_url(pattern) or not any(c in pattern for c in "*?["):
            found.append(pattern)
            continue
        matches = sorted(glob.glob(str(resolve_path(pattern, context.base_dir)), recursive=True))
        files = [m for m in matches if os.path.isfile(m)]
        if not files:
            where = "" if os.path.isabs(pattern) else f" (relative to {context.base_dir})"
            raise PermanentProbeError(f"no report matches {pattern}{where}")
        found.extend(files)
    return list(dict.fromkeys(found))


async def _read_all(locations: list[str], context: ProbeContext, auth: SourceAuth | None) -> list[Document]:
    """Read every report concurrently; the first failure cancels the rest and is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(read_document(loc, context, auth)) for loc in locations]
    except BaseExceptionGroup as failures:
        first: BaseException = failures
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [task.result() for task in tasks]


VULN_REPORT = register(
    ProbeType(
        name="vuln_report",
        summary=(
            "Trivy (JSON, Kubernetes, CycloneDX) and Grype reports: vulnerabilities by severity "
            "after waivers, a report per image."
        ),
        config_model=VulnReportConfig,
        gather=gather,
        values=(
            Value("CRITICAL", "critical vulnerabilities, after waivers"),
            Value("HIGH", "high vulnerabilities, after waivers"),
            Value("MEDIUM", "medium vulnerabilities, after waivers"),
            Value("LOW", "low (and Grype negligible) vulnerabilities, after waivers"),
            Value("UNKNOWN", "vulnerabilities without a known severity, after waivers"),
            Value("WAIVED", "vulnerabilities accepted by an unexpired waiver"),
            Value("EXPIRED_WAIVERS", "ids of waivers past their expiry date"),
            Value("REPORTS", "report files read that hold a vulnerability scan"),
            Value("MISSING_IMAGES", "declared images without a report"),
            Value("PER_IMAGE", "image → severity → count", structured=True),
            Value(
                "TOP", "the worst findings: id, severity, package, installed, fixed, image", structured=True
            ),
        ),
        default_conditions=("[CRITICAL] == 0", "len([MISSING_IMAGES]) == 0"),
        example={
            "type": "vuln_report",
            "reports": ["reports/trivy-*.json"],
            "images": ["ghcr.io/valeo/neuroerp-api:1.1.0"],
            "fixable_only": False,
            "waivers": [
                {"id": "CVE-2024-12345", "expires": "2025-12-31", "reason": "not reachable; fix in 1.1.1"}
            ],
        },
    )
)
