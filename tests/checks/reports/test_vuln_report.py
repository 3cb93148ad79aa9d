"""The vuln_report probe over Trivy and Grype reports, through loads() and run_checklist()."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from golive.checks.errors import ProbeError
from golive.checks.families.vuln_report import VulnReportConfig, summarise
from golive.checks.formats.vulnerabilities import (
    answers_for,
    normalise_severity,
    parse_reference,
    parse_scan_report,
    parse_scan_reports,
)
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
        (
            "coverage-py.json",
            "coverage-py.json: neither a Trivy nor a Grype JSON report (expected trivy image",
        ),
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
    hub = parse_reference("docker.io/library/alpine:latest")
    assert parse_reference("alpine:latest") == hub
    assert parse_reference("index.docker.io/library/alpine:latest") == hub
    assert parse_reference("docker:nginx:1.27") == parse_reference("index.docker.io/library/nginx:1.27")
    local = parse_reference("registry:5000/app:1")
    assert (local.registry, local.path, local.tag) == ("registry:5000", "app", "1")
    both = parse_reference("GHCR.IO/o/App:1.0@sha256:ab")
    assert (both.repository, both.tag, both.digest) == ("ghcr.io/o/app", "1.0", "sha256:ab")


REGISTRY_WEB = "registry.example:5000/valeo/web"
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("wanted", "report", "matches"),
    [
        # A repository name, as GOLIVE_IMAGES holds them: any registry, at the release tag.
        ("valeo/web", [f"{REGISTRY_WEB}:1.1.0"], True),
        ("valeo/web", [f"{REGISTRY_WEB}@{DIGEST}"], True),  # scanned by digest
        ("valeo/web", [f"{REGISTRY_WEB}:1.0.0", f"{REGISTRY_WEB}@{DIGEST}"], False),  # another tag
        ("valeo/web", [f"{REGISTRY_WEB}:1.0.0"], False),
        ("valeo/web", ["registry.example:5000/valeo/web-admin:1.1.0"], False),
        ("valeo/web", ["registry.example:5000/other/valeo/web:1.1.0"], False),
        ("alpine", ["alpine:1.1.0"], True),
        ("alpine", ["docker.io/library/alpine:1.1.0"], True),
        # A registry host pins the registry.
        ("registry.example:5000/valeo/web", [f"{REGISTRY_WEB}:1.1.0"], True),
        ("ghcr.io/valeo/web", [f"{REGISTRY_WEB}:1.1.0"], False),
        # A full reference matches exactly, the host normalised.
        (f"{REGISTRY_WEB}:1.1.0", [f"{REGISTRY_WEB}:1.1.0"], True),
        (f"{REGISTRY_WEB}:1.1.0", [f"{REGISTRY_WEB}:1.1.1"], False),
        ("valeo/web:1.1.0", [f"{REGISTRY_WEB}:1.1.0"], False),  # that is docker.io/valeo/web
        ("index.docker.io/valeo/web:1.1.0", ["valeo/web:1.1.0"], True),
        ("nginx:1.27", ["docker.io/library/nginx:1.27"], True),
        (f"{REGISTRY_WEB}@{DIGEST}", [f"{REGISTRY_WEB}:1.1.0", f"{REGISTRY_WEB}@{DIGEST}"], True),
    ],
)
def test_images_are_matched_the_way_users_write_them(wanted: str, report: list[str], matches: bool) -> None:
    references = tuple(parse_reference(r) for r in report)
    assert answers_for(wanted, references, "1.1.0") is matches


async def test_repository_names_match_reports_of_full_references_at_the_release_tag(tmp_path: Path) -> None:
    # GOLIVE_IMAGES holds repository names; the scans name the registry and the tag.
    for name in ("neuroerp-api", "neuroerp-web"):
        document = json.loads((DATA / "trivy-worker.json").read_text())
        reference = f"registry.example:5000/valeo/{name}:1.1.0"
        document["ArtifactName"] = reference
        document["Metadata"]["RepoTags"] = [reference]
        document["Metadata"]["RepoDigests"] = [f"registry.example:5000/valeo/{name}@{DIGEST}"]
        (tmp_path / f"trivy-{name}.json").write_text(json.dumps(document))
    images = ["valeo/neuroerp-api", "valeo/neuroerp-web"]

    scanned = await run_one(
        {"type": "vuln_report", "reports": ["trivy-*.json"], "images": images},
        base_dir=tmp_path,
        now=SCAN_DAY,
    )
    assert scanned.status == Status.PASS, scanned.message
    assert scanned.observed["MISSING_IMAGES"] == []

    (tmp_path / "trivy-neuroerp-web.json").unlink()
    one_missing = await run_one(
        {"type": "vuln_report", "reports": ["trivy-*.json"], "images": images},
        base_dir=tmp_path,
        now=SCAN_DAY,
    )
    assert one_missing.status == Status.FAIL
    assert one_missing.observed["MISSING_IMAGES"] == ["valeo/neuroerp-web"]
    assert "no report for: valeo/neuroerp-web (repository names are matched at tag 1.1.0)" in (
        one_missing.message
    )


async def test_a_scan_of_the_previous_release_is_no_scan_of_this_one(tmp_path: Path) -> None:
    document = json.loads((DATA / "trivy-worker.json").read_text())
    document["ArtifactName"] = "registry.example:5000/valeo/neuroerp-api:1.0.9"
    document["Metadata"]["RepoTags"] = [document["ArtifactName"]]
    document["Metadata"]["RepoDigests"] = [f"registry.example:5000/valeo/neuroerp-api@{DIGEST}"]
    (tmp_path / "trivy-api.json").write_text(json.dumps(document))
    result = await run_one(
        {"type": "vuln_report", "reports": ["trivy-api.json"], "images": ["valeo/neuroerp-api"]},
        base_dir=tmp_path,
        now=SCAN_DAY,
    )
    assert result.status == Status.FAIL
    assert result.observed["MISSING_IMAGES"] == ["valeo/neuroerp-api"]
    # An explicit tag on the probe moves the match.
    pinned = await run_one(
        {
            "type": "vuln_report",
            "reports": ["trivy-api.json"],
            "images": ["valeo/neuroerp-api"],
            "tag": "1.0.9",
        },
        base_dir=tmp_path,
        now=SCAN_DAY,
    )
    assert pinned.status == Status.PASS, pinned.message


async def test_trivy_kubernetes_report_answers_for_every_scanned_workload_image() -> None:
    result = await run_one(
        {
            "type": "vuln_report",
            "reports": ["k8s-trivy.json"],
            "images": ["valeo/neuroerp-api", "valeo/neuroerp-web", "valeo/neuroerp-worker"],
        },
        conditions=["[HIGH] == 1", "[CRITICAL] == 0"],
        now=SCAN_DAY,
    )
    observed = result.observed
    assert observed["REPORTS"] == 1
    assert counts(observed) == (0, 1, 0, 0, 0)
    api = "registry.example:5000/valeo/neuroerp-api:1.1.0"
    web = "registry.example:5000/valeo/neuroerp-web:1.1.0"
    assert observed["PER_IMAGE"][api]["HIGH"] == 1
    assert observed["PER_IMAGE"][web] == {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0}
    # The worker was only checked for misconfigurations: no vulnerability scan of its image.
    assert observed["MISSING_IMAGES"] == ["valeo/neuroerp-worker"]
    assert result.status == Status.PASS, result.message  # the item's own conditions hold
    assert observed["TOP"][0]["image"] == api


async def test_trivy_cyclonedx_with_vulnerabilities_is_read() -> None:
    result = await run_one(
        {"type": "vuln_report", "reports": ["cyclonedx-trivy-web.json"], "images": ["valeo/neuroerp-web"]},
        now=SCAN_DAY,
    )
    observed = result.observed
    assert result.status == Status.PASS, result.message
    assert observed["MISSING_IMAGES"] == []
    # The distribution's own rating (alpine: medium), as Trivy's JSON Severity, not NVD's.
    assert counts(observed) == (0, 1, 1, 0, 0)
    top = {t["id"]: t for t in observed["TOP"]}
    assert top["CVE-2025-0801"]["package"] == "busybox"
    assert top["CVE-2025-0801"]["installed"] == "1.36.1-r29"
    assert top["CVE-2025-0801"]["fixed"] == "1.36.1-r30"
    assert top["CVE-2025-0802"]["fixed"] is None
    assert "1 report(s) (1 trivy)" in result.message
    assert result.evidence is not None
    assert result.evidence.observed_at == datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


def test_cyclonedx_sbom_without_vulnerabilities_says_how_to_produce_a_scan() -> None:
    document = json.loads((DATA / "cyclonedx-trivy-web.json").read_text())
    del document["vulnerabilities"]
    with pytest.raises(ProbeError, match=r"trivy image --format cyclonedx --scanners vuln"):
        parse_scan_reports(json.dumps(document).encode(), "sbom.json")


async def test_trivy_before_0_20_writes_null_for_a_clean_scan() -> None:
    result = await run_one({"type": "vuln_report", "reports": ["legacy-trivy-null.json"]}, now=SCAN_DAY)
    assert result.status == Status.PASS, result.message
    assert counts(result.observed) == (0, 0, 0, 0, 0)
    assert result.observed["REPORTS"] == 1


async def test_legacy_list_names_its_image_in_the_os_target() -> None:
    result = await run_one(
        {
            "type": "vuln_report",
            "reports": ["legacy-trivy-list.json"],
            "images": ["registry.valeo.internal/neuroerp-batch:1.1.0"],
        },
        conditions=["len([MISSING_IMAGES]) == 0"],
        now=SCAN_DAY,
    )
    assert result.status == Status.PASS, result.message


async def test_absolute_pattern_without_matches_says_no_relative_to(tmp_path: Path) -> None:
    pattern = str(tmp_path / "scans" / "*.json")
    result = await run_one({"type": "vuln_report", "reports": [pattern]}, now=SCAN_DAY)
    assert result.status == Status.ERROR
    assert result.message == f"no report matches {pattern}"


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
    assert legacy.target == "x"  # the OS result names the image


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


def test_trivy_kubernetes_summary_report_and_both_metadata_shapes() -> None:
    # --report summary writes Findings; older Trivy wrote Metadata as one object, newer
    # as a list with one entry per container image (a pod of two images).
    document = json.loads((DATA / "k8s-trivy.json").read_text())
    api, web, _ = document.pop("Resources")
    api["Metadata"] = api["Metadata"][0]
    pod = {
        "Namespace": "valeo",
        "Kind": "Pod",
        "Name": "two-images",
        "Metadata": [*web["Metadata"], {"RepoTags": ["registry.example:5000/valeo/sidecar:1.1.0"]}],
        "Results": web["Results"],
    }
    document["Findings"] = [api, pod]
    reports = parse_scan_reports(json.dumps(document).encode(), "summary.json")
    assert [len(r.findings) for r in reports] == [1, 0]
    for wanted in ("valeo/neuroerp-api", "valeo/neuroerp-web", "valeo/sidecar"):
        assert any(answers_for(wanted, r.references, "1.1.0") for r in reports), wanted
    with pytest.raises(ProbeError, match="holds 2 image scans, not one"):
        parse_scan_report(json.dumps(document).encode(), "summary.json")
