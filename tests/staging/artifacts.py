"""The reports the release pipeline leaves behind, written fresh into a folder.

Each is the shape the tool itself writes: k6's ``handleSummary(data)`` argument, Trivy's
``trivy image -f json`` (SchemaVersion 2) per image, and coverage.py's ``coverage json``.
The numbers are those of a good release: p95 212 ms, 0.17 % errors, 1,250 req/s, all
thresholds met; no CRITICAL or HIGH finding; 93.4 % coverage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Artifacts:
    k6_summary: Path
    #: Glob pattern matching one Trivy report per image.
    scan_reports: str
    coverage_report: Path


def write_artifacts(folder: Path, images: list[str]) -> Artifacts:
    folder.mkdir(parents=True, exist_ok=True)
    k6 = folder / "k6-summary.json"
    k6.write_text(json.dumps(k6_handle_summary(), indent=2))
    for image in images:
        name = image.rsplit("/", 1)[-1].split(":", 1)[0]
        (folder / f"trivy-{name}.json").write_text(json.dumps(trivy_report(image), indent=2))
    coverage = folder / "coverage.json"
    coverage.write_text(json.dumps(coverage_py_json()))
    return Artifacts(k6, str(folder / "trivy-*.json"), coverage)


def k6_handle_summary() -> dict[str, Any]:
    """A 5-minute run at 1,250 req/s, as ``handleSummary`` receives it."""
    requests = 375_000
    failed = 625
    return {
        "root_group": {
            "name": "",
            "path": "",
            "id": "d41d8cd98f00b204e9800998ecf8427e",
            "groups": [],
            "checks": [
                {
                    "name": "status is 200",
                    "path": "::status is 200",
                    "id": "6210a8cd14cd70477eba5c5e4cb3fb5f",
                    "passes": requests - failed,
                    "fails": failed,
                }
            ],
        },
        "options": {
            "summaryTrendStats": ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
            "summaryTimeUnit": "",
            "noColor": False,
        },
        "state": {"isStdOutTTY": False, "isStdErrTTY": False, "testRunDurationMs": 300_000.0},
        "metrics": {
            "http_req_duration": {
                "type": "trend",
                "contains": "time",
                "values": {
                    "avg": 118.4,
                    "min": 21.7,
                    "med": 104.2,
                    "max": 911.3,
                    "p(90)": 181.5,
                    "p(95)": 212.3,
                    "p(99)": 388.0,
                },
                "thresholds": {"p(95)<500": {"ok": True}},
            },
            "http_req_failed": {
                "type": "rate",
                "contains": "default",
                "values": {"rate": failed / requests, "passes": failed, "fails": requests - failed},
                "thresholds": {"rate<0.01": {"ok": True}},
            },
            "http_reqs": {
                "type": "counter",
                "contains": "default",
                "values": {"count": requests, "rate": requests / 300.0},
                "thresholds": {"rate>1000": {"ok": True}},
            },
            "vus": {"type": "gauge", "contains": "default", "values": {"value": 0, "min": 0, "max": 200}},
        },
    }


def trivy_report(image: str) -> dict[str, Any]:
    """``trivy image -f json`` of one image: two LOW and one MEDIUM finding, nothing worse."""
    now = datetime.now(UTC)
    return {
        "SchemaVersion": 2,
        "Trivy": {"Version": "0.62.1"},
        "CreatedAt": now.strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),
        "ArtifactName": image,
        "ArtifactType": "container_image",
        "Metadata": {"OS": {"Family": "alpine", "Name": "3.20.3"}, "RepoTags": [image]},
        "Results": [
            {
                "Target": f"{image} (alpine 3.20.3)",
                "Class": "os-pkgs",
                "Type": "alpine",
                "Vulnerabilities": [
                    _vulnerability("CVE-2026-10001", "busybox", "1.36.1-r29", "1.36.1-r30", "LOW"),
                    _vulnerability("CVE-2026-10002", "libcrypto3", "3.3.2-r0", "3.3.2-r1", "MEDIUM"),
                ],
            },
            {
                "Target": "app/requirements.txt",
                "Class": "lang-pkgs",
                "Type": "pip",
                "Vulnerabilities": [_vulnerability("GHSA-aaaa-bbbb-cccc", "urllib3", "2.2.3", "", "LOW")],
            },
        ],
    }


def _vulnerability(
    identifier: str, package: str, installed: str, fixed: str, severity: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "VulnerabilityID": identifier,
        "PkgName": package,
        "InstalledVersion": installed,
        "Status": "fixed" if fixed else "affected",
        "Severity": severity,
        "Title": f"{package}: example {severity.lower()} issue",
    }
    if fixed:
        entry["FixedVersion"] = fixed
    return entry


def coverage_py_json() -> dict[str, Any]:
    """``coverage json`` with branch coverage: 93.4 % combined."""
    # coverage.py writes its local time without a zone.
    stamp = datetime.now().isoformat()
    totals = {
        "covered_lines": 4521,
        "num_statements": 4790,
        "percent_covered": 93.41,
        "percent_covered_display": "93",
        "missing_lines": 269,
        "excluded_lines": 12,
        "num_branches": 1210,
        "num_partial_branches": 61,
        "covered_branches": 1083,
        "missing_branches": 127,
    }
    return {
        "meta": {
            "format": 3,
            "version": "7.6.4",
            "timestamp": stamp,
            "branch_coverage": True,
            "show_contexts": False,
        },
        "files": {},
        "totals": totals,
    }
