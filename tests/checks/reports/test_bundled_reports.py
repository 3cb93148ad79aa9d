"""The report items of the bundled checklist, run as shipped against reports the tools
write: the scans must cover every image of GOLIVE_IMAGES (repository names), and a k6
run whose script has no thresholds does not hide its healthy measurements."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from golive.checks.loader import load
from golive.checks.runner import run_checklist
from golive.checks.status import Status
from golive.checks.verdict import item_ok

from ...staging.artifacts import k6_handle_summary, trivy_report
from ..test_bundled_checklist import BUNDLED

IMAGES = ("valeo/neuroerp-api", "valeo/neuroerp-web")
REGISTRY = "registry.example:5000"


def environment(folder: Path, **extra: str) -> dict[str, str]:
    return {
        "GOLIVE_RELEASE_VERSION": "1.1.0",
        "GOLIVE_IMAGES": ",".join(IMAGES),
        "GOLIVE_SCAN_REPORTS": str(folder / "trivy-*.json"),
        "GOLIVE_K6_SUMMARY": str(folder / "k6-summary.json"),
        **extra,
    }


def write_scans(folder: Path, names: tuple[str, ...]) -> None:
    for name in names:
        reference = f"{REGISTRY}/{name}:1.1.0"
        (folder / f"trivy-{name.rsplit('/', 1)[-1]}.json").write_text(json.dumps(trivy_report(reference)))


async def run_phase(folder: Path, phase: str) -> dict[str, Any]:
    checklist = load(BUNDLED, env=environment(folder))
    outcome = await run_checklist(checklist, phase=phase)
    return {"checklist": checklist, "results": outcome.results}


async def test_every_shipped_image_scanned_passes_and_a_missing_one_is_named(tmp_path: Path) -> None:
    write_scans(tmp_path, IMAGES)
    scanned = (await run_phase(tmp_path, "p1"))["results"]
    for item_id in ("images-scanned", "cve-scans", "critical-vulnerabilities"):
        assert scanned[item_id].status == Status.PASS, (item_id, scanned[item_id].message)
        assert scanned[item_id].observed["MISSING_IMAGES"] == []

    (tmp_path / "trivy-neuroerp-web.json").unlink()
    partial = (await run_phase(tmp_path, "p1"))["results"]
    for item_id in ("images-scanned", "cve-scans"):
        result = partial[item_id]
        assert result.status == Status.FAIL, (item_id, result.message)
        assert "no report for: valeo/neuroerp-web" in result.message
    assert partial["critical-vulnerabilities"].observed["MISSING_IMAGES"] == ["valeo/neuroerp-web"]


async def test_k6_run_without_thresholds_warns_and_the_metric_items_decide(tmp_path: Path) -> None:
    write_scans(tmp_path, IMAGES)
    summary = k6_handle_summary()
    for metric in summary["metrics"].values():
        metric.pop("thresholds", None)
    path = tmp_path / "k6-summary.json"
    path.write_text(json.dumps(summary))
    written = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(path, (written, written))

    ran = await run_phase(tmp_path, "p3")
    results, checklist = ran["results"], ran["checklist"]
    k6_run = results["k6-run"]
    assert k6_run.status == Status.WARN, k6_run.message
    assert "the k6 script defines no thresholds" in k6_run.message
    assert item_ok(checklist.item("k6-run"), k6_run.status)  # not blocking
    for item_id in ("p95-latency", "error-rate", "throughput"):
        assert results[item_id].status == Status.PASS, (item_id, results[item_id].message)
    assert results["p95-latency"].observed["P95_MS"] == 212.3
