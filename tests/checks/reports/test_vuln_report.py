"""The vuln_report probe over Trivy and Grype reports, through loads() and run_checklist()."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from golive.checks.errors import ProbeError
from golive.checks.families.vuln_formats import image_keys, normalise_severity, parse_scan_report
from golive.checks.families.vuln_report import VulnReportConfig, summarise
from golive.checks.status import Status

from .conftest import ReportServer
from .support import DATA, run_one

#: The scans ran on 2025-06-01; the run is the same afternoon.
SCAN_DAY = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
APP = "ghcr.io/valeo/neuroerp-app:1.1.0"
WORKER = "ghcr.io/valeo/neuroerp-worker:1.1.0"
API = "ghcr.io/valeo/neuroerp-api:1.1.0"
WEB = "ghcr.io/valeo/neuroerp-web:1.1.0"
ALL_REPORTS = ["trivy-*.json", "grype-api.json"]


def probe(**fields: Any) -> dict[str, Any]:
    return {"type": "vuln_report", "reports": ALL_REPORTS, **fields}


def counts(observed: dict[str, Any] | Any) -> tuple[int, ...]:
    return tuple(observed[s] for s in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"))


async def test_trivy_and_grype_reports_counted_per_severity_and_image() -> None:
    result = await run_one(probe(images=[APP, WORKER, API, WEB]), now=SCAN_DAY)

    observed = result.observed
    assert result.status == Status.FAIL
    # Trivy: 1 critical, busybox + jackson-databind (listed in two jars, counted once) high,
    # zlib medium, musl low, ncurses UNKNOWN; the secret result is not a vulnerability.
    # Grype: Critical, High, Medium, Negligible → LOW, no severity → UNKNOWN.
    assert counts(observed) == (2, 3, 2, 2, 2)
    assert observed["REPORTS"] == 3
    assert observed["MISSING_IMAGES"] == [WEB]
    assert observed["PER_IMAGE"] == {
        APP: {"CRITICAL": 1, "HIGH": 2, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 1},
        WORKER: {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0},
        API: {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 1},
    }
    assert [t["id"] for t in observed["TOP"][:2]] == ["CVE-2025-0001", "CVE-2025-0100"]
    assert observed["TOP"][0] == {
        "id": "CVE-2025-0001",
        "severity": "CRITICAL",
        "package": "libcrypto3",
        "installed": "3.1.4-r0",
        "fixed": "3.1.4-r5",
        "image": APP,
    }
    assert "[CRITICAL] = 2, limit == 0" in result.message
    assert "len([MISSING_IMAGES]) = 1, limit == 0" in result.message
    assert f"no report for: {WEB}" in result.message
    # The set is as fresh as its oldest scan: trivy-app.json's CreatedAt.
    assert result.evidence is not None
    assert result.evidence.observed_at == datetime(2025, 6, 1, 8, 0, 0, 123456, tzinfo=UTC)


async def test_waivers_apply_until_their_expiry_day_and_expired_ones_are_reported() -> None:
    waivers = [
        {"id": "CVE-2025-0001", "expires": "2025-12-31", "reason": "libcrypto path unused"},
        # Grype lists the lodash GHSA with this CVE as related: the waiver by CVE applies.
        {"id": "CVE-2025-0200", "expires": "2025-06-01", "reason": "last day today"},
        {"id": "CVE-2025-0100", "expires": "2025-05-31", "reason": "was meant to be fixed"},
    ]
    result = await run_one(probe(waivers=waivers), now=SCAN_DAY)

    observed = result.observed
    assert counts(observed) == (1, 2, 2, 2, 2)
    assert observed["WAIVED"] == 2
    assert observed["EXPIRED_WAIVERS"] == ["CVE-2025-0100"]
    assert observed["PER_IMAGE"][APP]["CRITICAL"] == 0
    assert result.status == Status.FAIL  # the expired waiver no longer covers CVE-2025-0100
    assert "expired waivers (no longer applied): CVE-2025-0100 (expired 2025-05-31)" in result.message
    assert "2 waived" in result.message


async def test_fixable_only_counts_what_has_a_fix() -> None:
    result = await run_one(probe(fixable_only=True), now=SCAN_DAY)
    # Trivy: FixedVersion or Status fixed (ncurses has no FixedVersion but is "fixed");
    # Grype: fix.state fixed only.
    assert result.observed["PER_IMAGE"][APP] == {
        "CRITICAL": 1,
        "HIGH": 1,
        "MEDIUM": 1,
        "LOW": 0,
        "UNKNOWN": 1,
    }
    assert result.observed["PER_IMAGE"][API] == {
        "CRITICAL": 1,
        "HIGH": 0,
        "MEDIUM": 1,
        "LOW": 0,
        "UNKNOWN": 0,
    }
    assert counts(result.observed) == (2, 1, 2, 0, 1)


async def test_clean_image_with_every_declared_image_scanned_passes() -> None:
    result = await run_one(
        {"type": "vuln_report", "reports": ["trivy-worker.json"], "images": [WORKER]}, now=SCAN_DAY
    )
    assert result.status == Status.PASS, result.message
    assert counts(result.observed) == (0, 0, 0, 0, 0)
    assert result.observed["MISSING_IMAGES"] == []
    assert result.observed["TOP"] == []


async def test_images_match_by_digest_and_docker_hub_spelling() -> None:
    digest = "sha256:5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f"
    result = await run_one(
        {
            "type": "vuln_report",
            "reports": ["grype-api.json"],
            "images": [f"ghcr.io/valeo/neuroerp-api@{digest}", f"GHCR.IO/valeo/neuroerp-api:1.1.0@{digest}"],
        },
        conditions=["len([MISSING_IMAGES]) == 0"],
        now=SCAN_DAY,
    )
    assert result.status == Status.PASS, result.message


async def test_scans_older_than_max_age_are_stale() -> None:
    result = await run_one(
        probe(), now=datetime(2025, 6, 3, 12, 0, tzinfo=UTC), conditions=["[REPORTS] == 3"]
    )
    assert result.raw_status == Status.PASS
    assert result.status == Status.STALE
    assert result.message.startswith("evidence is 2.2d old, older than the 1.0d allowed")


async def test_glob_without_matches_and_missing_files_are_errors() -> None:
    no_match = await run_one({"type": "vuln_report", "reports": ["scans/*.json"]}, now=SCAN_DAY)
    assert no_match.status == Status.ERROR
    assert no_match.message == f"no report matches scans/*.json (relative to {DATA})"

    missing = await run_one({"type": "vuln_report", "reports": ["trivy-app.json", "trivy-db.json"]})
    assert missing.status == Status.ERROR
    assert missing.message == f"report not found: {DATA / 'trivy-db.json'}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("k6-summary-export.json", "k6-summary-export.json: neither a Trivy nor a Grype JSON report"),
        ("k6-truncated.json", "k6-truncated.json: the scan report is not valid JSON"),
        ("garbage.bin", "garbage.bin: not a text report"),
    ],
)
async def test_wrong_documents_are_errors(name: str, expected: str) -> None:
    result = await run_one({"type": "vuln_report", "reports": [name]})
    assert result.status == Status.ERROR
    assert expected in result.message


async def test_reports_over_http(report_server: ReportServer) -> None:
    trivy, grype = (f"{report_server.url}/reports/{n}" for n in ("trivy-app.json", "grype-api.json"))
    result = await run_one(
        {"type": "vuln_report", "reports": [trivy, grype], "images": [APP, API]}, now=SCAN_DAY
    )
    assert result.observed["REPORTS"] == 2
    assert result.observed["MISSING_IMAGES"] == []
    assert result.status == Status.FAIL  # two criticals
    # The documents' own CreatedAt / descriptor.timestamp beat the Last-Modified header.
    assert result.evidence is not None
    assert result.evidence.observed_at == datetime(2025, 6, 1, 8, 0, 0, 123456, tzinfo=UTC)

    gone = await run_one(
        {"type": "vuln_report", "reports": [trivy, f"{report_server.url}/reports/missing.json"]}
    )
    assert gone.status == Status.ERROR
    assert gone.message == f"report {report_server.url}/reports/missing.json: HTTP 404"


async def test_report_without_own_timestamp_ages_by_last_modified(report_server: ReportServer) -> None:
    # Trivy before 0.20 wrote a bare list of results: no CreatedAt, no image name.
    legacy = "legacy-trivy-list.json"
    fresh = await run_one(
        {"type": "vuln_report", "reports": [f"{report_server.url}/reports/{legacy}"]},
        conditions=["[HIGH] == 1", "[CRITICAL] == 0"],
    )
    assert fresh.status == Status.PASS, fresh.message
    assert fresh.evidence is not None
    assert fresh.evidence.observed_at == datetime(2025, 6, 2, 9, 0, tzinfo=UTC)  # Last-Modified

    old = await run_one({"type": "vuln_report", "reports": [f"{report_server.url}/old/{legacy}"]})
    assert old.status == Status.STALE

    # A report with its own CreatedAt keeps it, whatever the header says.
    dated = await run_one(
        {"type": "vuln_report", "reports": [f"{report_server.url}/old/trivy-worker.json"]}, now=SCAN_DAY
    )
    assert dated.status == Status.PASS
    assert dated.evidence is not None
    assert dated.evidence.observed_at == datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


# The pure half.


def test_severities_are_normalised() -> None:
    assert [normalise_severity(s) for s in ("Critical", "HIGH", "Negligible", "low", None, "", "urgent")] == [
        "CRITICAL",
        "HIGH",
        "LOW",
        "LOW",
        "UNKNOWN",
        "UNKNOWN",
        "UNKNOWN",
    ]


def test_image_references_compare_after_normalising() -> None:
    assert image_keys("alpine") == image_keys("docker.io/library/alpine:latest")
    assert image_keys("docker:nginx:1.27") == image_keys("index.docker.io/library/nginx:1.27")
    assert image_keys("registry:5000/app:1") == frozenset({"registry:5000/app:1"})
    assert image_keys("localhost/app") == frozenset({"localhost/app:latest"})
    both = image_keys("ghcr.io/o/app:1.0@sha256:ab")
    assert both == frozenset({"ghcr.io/o/app:1.0", "ghcr.io/o/app@sha256:ab"})
    assert not image_keys("ghcr.io/o/app:1.0") & image_keys("ghcr.io/o/app:1.1")


def test_trivy_without_results_and_legacy_list() -> None:
    clean = parse_scan_report(b'{"SchemaVersion": 2, "ArtifactName": "busybox:1.36"}', "clean.json")
    assert clean.findings == ()
    assert clean.target == "busybox:1.36"
    legacy = parse_scan_report(
        b'[{"Target": "x (alpine 3.10)", "Vulnerabilities": [{"VulnerabilityID": "CVE-1",'
        b' "PkgName": "p", "InstalledVersion": "1", "Severity": "HIGH"}]}, {"Target": "y"}]',
        "legacy.json",
    )
    assert [(f.id, f.severity, f.fixable) for f in legacy.findings] == [("CVE-1", "HIGH", False)]
    assert legacy.target is None


def test_trivy_schema_and_shape_errors_name_the_field() -> None:
    with pytest.raises(ProbeError, match=r"t.json: Trivy report SchemaVersion 3 is not supported"):
        parse_scan_report(b'{"SchemaVersion": 3, "Results": []}', "t.json")
    with pytest.raises(ProbeError, match=r"t.json: Results\[0\].Vulnerabilities should be a list"):
        parse_scan_report(b'{"SchemaVersion": 2, "Results": [{"Vulnerabilities": {}}]}', "t.json")
    with pytest.raises(ProbeError, match=r"g.json: matches\[0\].vulnerability has no id"):
        parse_scan_report(b'{"matches": [{"vulnerability": {}}]}', "g.json")


def test_grype_directory_scan_names_the_path() -> None:
    report = parse_scan_report(
        b'{"matches": null, "source": {"type": "directory", "target": "./src"}}', "d.json"
    )
    assert report.target == "./src"
    assert report.findings == ()


def test_duplicates_keep_the_worst_severity_and_any_fix() -> None:
    document = {
        "SchemaVersion": 2,
        "ArtifactName": "app:1",
        "Results": [
            {
                "Class": "lang-pkgs",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "CVE-9",
                        "PkgName": "lib",
                        "InstalledVersion": "1",
                        "Severity": "MEDIUM",
                    }
                ],
            },
            {
                "Class": "lang-pkgs",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "CVE-9",
                        "PkgName": "lib",
                        "InstalledVersion": "1",
                        "Severity": "HIGH",
                        "FixedVersion": "2",
                    }
                ],
            },
            {
                "Class": "lang-pkgs",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "CVE-9",
                        "PkgName": "lib",
                        "InstalledVersion": "0.9",
                        "Severity": "LOW",
                    }
                ],
            },
        ],
    }
    report = parse_scan_report(json.dumps(document).encode(), "dup.json")
    config = VulnReportConfig(type="vuln_report", reports=["dup.json"])
    values, _ = summarise([("dup.json", report)], config, date(2025, 6, 1))
    assert (values["HIGH"], values["MEDIUM"], values["LOW"]) == (1, 0, 1)  # two package versions
    assert values["TOP"][0]["fixed"] == "2"
