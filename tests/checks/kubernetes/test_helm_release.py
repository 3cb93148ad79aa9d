"""``helm_release``: Helm's storage secrets, decoded the way Helm decodes them."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from golive.checks.errors import ProbeError
from golive.checks.families.kubernetes.helm_release import decode_release
from golive.checks.status import Status

from .fake_apiserver import load_cluster
from .support import CLUSTERS, Kube, run_one


def test_fixture_secrets_are_stored_as_kubernetes_stores_them() -> None:
    """The API's base64 of Helm's base64 of gzip: the decoded text starts with H4sI."""
    secrets = load_cluster(CLUSTERS / "healthy.yaml").objects[("", "secrets")]
    by_name = {s["metadata"]["name"]: s for s in secrets}
    compressed = base64.b64decode(by_name["sh.helm.release.v1.neuroerp.v4"]["data"]["release"])
    assert compressed.startswith(b"H4sI")  # base64 of 1f 8b 08
    assert json.loads(gzip.decompress(base64.b64decode(compressed)))["version"] == 4
    plain = base64.b64decode(by_name["sh.helm.release.v1.neuroerp.v1"]["data"]["release"])
    assert json.loads(base64.b64decode(plain))["info"]["description"] == "Install complete"


async def test_deployed_release_with_rollback_history(kube: Kube) -> None:
    result = await run_one(
        kube.probe("helm_release", "healthy", namespace="valeo", release="neuroerp"),
        conditions=["[STATUS] == deployed", "[CHART_VERSION] == [RELEASE_VERSION]"],
    )
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["STATUS"] == "deployed"
    assert observed["REVISION"] == 4
    assert (observed["CHART"], observed["CHART_VERSION"], observed["APP_VERSION"]) == (
        "neuroerp",
        "1.1.0",
        "1.1.0",
    )
    # Revision 1 was stored without gzip; it decodes all the same.
    assert [h["revision"] for h in observed["HISTORY"]] == [4, 3, 2, 1]
    assert observed["ROLLBACK_SEEN"] is True
    assert observed["ROLLBACKS"] == ["v3: Rollback to 1 (superseded)"]
    assert observed["KNOWN_GOOD_REVISION"] == 4
    # Revision 2 is superseded, but it is the upgrade that failed: not a rollback target.
    assert observed["PREVIOUS_GOOD_REVISION"] == 3
    assert observed["HOOKS"] == [
        {
            "name": "neuroerp-db-migrate",
            "kind": "Job",
            "events": ["pre-install", "pre-upgrade"],
            "last_run": "Succeeded",
        },
        {"name": "neuroerp-smoke-test", "kind": "Pod", "events": ["test"], "last_run": "Succeeded"},
    ]
    assert observed["FAILED_HOOKS"] == []
    assert result.message.startswith("revision 4: deployed, chart neuroerp 1.1.0 (app 1.1.0)")


async def test_an_expected_chart_version_is_a_condition(kube: Kube) -> None:
    result = await run_one(
        kube.probe("helm_release", "healthy", namespace="valeo", release="neuroerp"),
        conditions=["[STATUS] == deployed", "[CHART_VERSION] == 1.2.0"],
    )
    assert result.status == Status.FAIL
    assert "[CHART_VERSION] = 1.1.0, limit == 1.2.0" in result.message


async def test_failed_upgrade_at_the_newest_revision(kube: Kube) -> None:
    result = await run_one(kube.probe("helm_release", "broken", namespace="valeo", release="neuroerp"))
    assert result.status == Status.FAIL
    observed = result.observed
    assert (observed["STATUS"], observed["REVISION"], observed["CHART_VERSION"]) == ("failed", 2, "1.1.0")
    assert observed["KNOWN_GOOD_REVISION"] == 1
    assert observed["PREVIOUS_GOOD_REVISION"] == 1
    assert observed["FAILED_HOOKS"] == ["neuroerp-db-migrate"]
    assert observed["HOOKS"][1] == {
        "name": "neuroerp-notify",
        "kind": "Job",
        "events": ["post-upgrade"],
        "last_run": None,
    }
    assert observed["ROLLBACK_SEEN"] is False
    assert 'Upgrade "neuroerp" failed: pre-upgrade hooks failed' in result.message
    assert "[STATUS] = failed, limit == deployed" in result.message


async def test_failed_rollback_is_listed_but_not_counted(kube: Kube) -> None:
    result = await run_one(kube.probe("helm_release", "broken", namespace="valeo", release="reports"))
    assert result.status == Status.FAIL
    observed = result.observed
    assert observed["ROLLBACK_SEEN"] is False
    assert observed["ROLLBACKS"] == [
        'v3: Rollback "reports" failed: no Deployment with the name "reports" found (failed)'
    ]
    # v2 is superseded but failed; v1 (stored without gzip) is still the deployed one.
    assert observed["KNOWN_GOOD_REVISION"] == 1


async def test_pending_upgrade_is_not_deployed(kube: Kube) -> None:
    result = await run_one(kube.probe("helm_release", "degraded", namespace="valeo", release="neuroerp"))
    assert result.status == Status.FAIL
    assert result.observed["STATUS"] == "pending-upgrade"
    assert "[STATUS] = pending-upgrade, limit == deployed" in result.message


async def test_configmap_storage_driver(kube: Kube) -> None:
    probe = kube.probe(
        "helm_release", "healthy", namespace="valeo-tools", release="tools", storage="configmap"
    )
    result = await run_one(probe)
    assert result.status == Status.PASS, result.message
    assert (result.observed["CHART_VERSION"], result.observed["APP_VERSION"]) == ("2.4.1", "2024.10")


async def test_a_release_that_is_not_there(kube: Kube) -> None:
    result = await run_one(kube.probe("helm_release", "healthy", namespace="valeo", release="neuroerp-api"))
    assert result.status == Status.FAIL
    assert result.message.startswith(
        "no Helm release neuroerp-api (no secret labelled owner=helm,name=neuroerp-api)"
    )
    assert "[STATUS] = null, limit == deployed" in result.message


def test_decoding_rejects_what_helm_would_reject() -> None:
    with pytest.raises(ProbeError, match="not base64"):
        decode_release("%%%", api_base64=True, max_bytes=1000, where="secret x")
    not_json = base64.b64encode(base64.b64encode(gzip.compress(b"not json"))).decode()
    with pytest.raises(ProbeError, match="does not decode to JSON"):
        decode_release(not_json, api_base64=True, max_bytes=1000, where="secret x")
    huge = base64.b64encode(base64.b64encode(gzip.compress(b"[" + b"0," * 5000 + b"0]"))).decode()
    with pytest.raises(ProbeError, match="larger than 1000 bytes"):
        decode_release(huge, api_base64=True, max_bytes=1000, where="secret x")


async def test_a_stuck_upgrade_superseded_by_a_failed_rollback_never_deployed(kube: Kube) -> None:
    result = await run_one(kube.probe("helm_release", "subtle", namespace="valeo", release="ledger"))
    assert result.status == Status.FAIL
    observed = result.observed
    # v2 hung in pending-upgrade; the rollback marked it superseded, but it never deployed.
    assert observed["KNOWN_GOOD_REVISION"] == 1
    assert observed["PREVIOUS_GOOD_REVISION"] == 1
    # Failed while waiting: Helm wrote 'Release "ledger" failed', yet it is a rollback.
    assert observed["ROLLBACKS"] == ['v3: Release "ledger" failed: context deadline exceeded (failed)']
    assert observed["ROLLBACK_SEEN"] is False
