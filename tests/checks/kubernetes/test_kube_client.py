"""How the Kubernetes probes reach a cluster, and how they fail when they cannot.

The real ``kubernetes`` client talks to the fake API server: bearer token from a file,
kubeconfig with a context, HTTPS with a CA bundle; 401, 403, 404, a refused port and a
server that never answers each become an ERROR that says what to fix.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive.checks.errors import ChecklistError
from golive.checks.loader import loads
from golive.checks.status import Status
from tests.checks.http.servers import free_port

from .conftest import LARGE_COUNT
from .fake_apiserver import TOKEN
from .support import Kube, checklist_yaml, item, run_one


def _kubeconfig(path: Path, server: str, token: str, namespace: str = "valeo") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "probe", "user": {"token": token}}],
                "contexts": [
                    {
                        "name": "other",
                        "context": {"cluster": "fake", "user": "probe", "namespace": "nowhere"},
                    },
                    {
                        "name": "release",
                        "context": {"cluster": "fake", "user": "probe", "namespace": namespace},
                    },
                ],
                "current-context": "other",
            }
        )
    )
    return path


async def test_token_from_a_file_reaches_the_cluster_and_never_shows(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_services", "healthy", namespace="valeo"))
    assert result.status == Status.PASS, result.message
    assert result.evidence is not None
    assert result.evidence.source == f"{kube.server.url('healthy')} namespace valeo"
    assert TOKEN not in json.dumps([result.message, dict(result.observed), result.evidence.source])


async def test_a_wrong_token_is_unauthorised_and_permanent(kube: Kube, tmp_path: Path) -> None:
    wrong = tmp_path / "token"
    wrong.write_text("not-the-token")
    probe = kube.probe("kube_services", "healthy", namespace="valeo", token={"file": str(wrong)})
    result = await run_one(probe)
    assert result.status == Status.ERROR
    assert "unauthorised (Unauthorized)" in result.message
    assert "TEMPORARY" not in result.observed


async def test_no_token_at_all_is_unauthorised(kube: Kube) -> None:
    result = await run_one(
        {"type": "kube_services", "server": kube.server.url("healthy"), "namespace": "valeo"}
    )
    assert result.status == Status.ERROR
    assert "unauthorised" in result.message


async def test_rbac_forbidding_the_namespace_names_the_missing_permission(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_pod_security", "broken", namespace="payroll"))
    assert result.status == Status.ERROR
    assert "forbidden: pods is forbidden" in result.message
    assert 'cannot list resource "pods" in API group "" in the namespace "payroll"' in result.message
    assert "TEMPORARY" not in result.observed


async def test_a_named_object_that_does_not_exist_is_a_misconfiguration(kube: Kube) -> None:
    probe = kube.probe("kube_workloads", "healthy", namespace="valeo", deployments=["api", "apii"])
    result = await run_one(probe)
    assert result.status == Status.ERROR
    assert 'get deployments.apps valeo/apii: not found (deployments.apps "apii" not found)' in result.message


async def test_a_refused_connection_is_temporary(kube: Kube) -> None:
    probe = kube.probe(
        "kube_services", "healthy", namespace="valeo", server=f"http://127.0.0.1:{free_port()}"
    )
    result = await run_one(probe)
    assert result.status == Status.ERROR
    assert "cannot reach the API server: connection refused" in result.message
    assert result.observed["TEMPORARY"] is True


async def test_a_hung_api_server_is_cut_at_the_item_timeout_and_frees_the_thread(kube: Kube) -> None:
    hangups = kube.server.hangups()
    started = time.monotonic()
    result = await run_one(kube.probe("kube_services", "hang", namespace="valeo"), timeout="1s")
    assert time.monotonic() - started < 3
    assert result.status == Status.ERROR
    # The runner's cut and the client's own request timeout are the same second; either
    # may report first, both say the target did not answer in time.
    assert "timed out after 1s" in result.message or "no answer within 1s" in result.message
    assert result.observed["TEMPORARY"] is True
    # The worker thread's request gives up too, instead of waiting for the server: the
    # fake server sees the client close both hung connections (services, endpointslices).
    assert kube.server.wait_for_hangups(hangups + 2, timeout=3)


async def test_kubeconfig_context_chooses_cluster_credentials_and_namespace(
    kube: Kube, tmp_path: Path
) -> None:
    config = _kubeconfig(tmp_path / "config", kube.server.url("healthy"), TOKEN)
    result = await run_one({"type": "kube_services", "kubeconfig": str(config), "context": "release"})
    assert result.status == Status.PASS, result.message
    assert result.observed["SERVICES"] == ["api", "db", "web"]  # the context's namespace, valeo
    assert result.evidence is not None
    assert result.evidence.source == f"{kube.server.url('healthy')} (context release) namespace valeo"


async def test_kubeconfig_current_context_is_the_default(kube: Kube, tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "config", kube.server.url("healthy"), TOKEN)
    result = await run_one({"type": "kube_services", "kubeconfig": str(config)})
    # current-context "other" points at a namespace without services: nothing to check.
    assert result.status == Status.FAIL
    assert result.message.startswith("no Service found")


async def test_kubeconfig_with_an_unknown_context_or_missing_file_is_an_error(
    kube: Kube, tmp_path: Path
) -> None:
    config = _kubeconfig(tmp_path / "config", kube.server.url("healthy"), TOKEN)
    unknown = await run_one({"type": "kube_services", "kubeconfig": str(config), "context": "prod"})
    assert unknown.status == Status.ERROR
    assert unknown.message.startswith(f"kubeconfig {config}:")
    assert "prod" in unknown.message
    missing = await run_one({"type": "kube_services", "kubeconfig": str(tmp_path / "absent")})
    assert missing.status == Status.ERROR
    assert missing.message.startswith(f"kubeconfig {tmp_path / 'absent'}:")


async def test_without_any_kubeconfig_or_cluster_the_item_is_not_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-config"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    for probe in ({"type": "kube_services"}, {"type": "kube_services", "context": "release"}):
        result = await run_one(probe)
        assert result.status == Status.ERROR
        assert result.message == "not configured: set KUBECONFIG, or run in a cluster"
        assert "kube-config" not in result.message


async def test_https_with_the_cluster_ca(kube: Kube) -> None:
    probe = kube.probe(
        "kube_services",
        "healthy",
        namespace="valeo",
        server=kube.secure.url("healthy"),
        ca_file=str(kube.ca_file),
    )
    result = await run_one(probe)
    assert result.status == Status.PASS, result.message


async def test_https_without_the_ca_fails_verification_permanently(kube: Kube) -> None:
    probe = kube.probe("kube_services", "healthy", namespace="valeo", server=kube.secure.url("healthy"))
    result = await run_one(probe)
    assert result.status == Status.ERROR
    assert "TLS with the API server failed" in result.message
    assert "CERTIFICATE_VERIFY_FAILED" in result.message
    assert "TEMPORARY" not in result.observed


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
async def test_https_with_verification_off(kube: Kube) -> None:
    probe = kube.probe(
        "kube_services",
        "healthy",
        namespace="valeo",
        server=kube.secure.url("healthy"),
        insecure_skip_tls_verify=True,
    )
    result = await run_one(probe)
    assert result.status == Status.PASS, result.message


async def test_lists_follow_continue_tokens_past_one_page(kube: Kube) -> None:
    before = len(kube.server.calls())
    result = await run_one(kube.probe("kube_services", "large", namespace="many"))
    assert result.status == Status.PASS, result.message
    assert len(result.observed["SERVICES"]) == LARGE_COUNT
    assert result.observed["READY_ENDPOINTS"]["svc-1099"] == 1
    calls = kube.server.calls()[before:]
    # 1100 objects in pages of 500: three requests per resource.
    assert sum(1 for c in calls if c.resource == "services") == 3
    assert sum(1 for c in calls if c.resource == "endpointslices") == 3


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"kubeconfig": "/k", "server": "https://k8s.example.test:6443"}, "probe"),
        ({"token": {"env": "KUBE_TOKEN"}}, "probe"),
        ({"server": "https://k8s.example.test", "token": "inline-token"}, "probe.token"),
        ({"server": "k8s.example.test:6443"}, "probe"),
        (
            {"server": "https://k8s.example.test", "ca_file": "ca.pem", "insecure_skip_tls_verify": True},
            "probe",
        ),
        ({"namespace": "Not_A_Namespace"}, "probe.namespace"),
    ],
)
def test_target_config_mistakes_fail_at_load(extra: dict[str, object], field: str) -> None:
    text = checklist_yaml([item("svc", {"type": "kube_services", **extra})])
    with pytest.raises(ChecklistError) as raised:
        loads(text, env={})
    assert [(p.where, p.field) for p in raised.value.problems] == [("item svc", field)]


def _read(kube: Kube, cluster: str, path: str) -> Any:
    request = urllib.request.Request(
        f"{kube.server.url(cluster)}{path}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def test_the_stand_in_returns_objects_with_the_api_servers_defaults(kube: Kube) -> None:
    hpa = _read(kube, "subtle", "/apis/autoscaling/v2/namespaces/scaling/horizontalpodautoscalers/web")
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "maxReplicas": 4,
        "minReplicas": 1,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ],
    }
    policy = _read(
        kube, "subtle", "/apis/networking.k8s.io/v1/namespaces/np-additive/networkpolicies/allow-all"
    )
    assert policy["spec"] == {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]}
    pod = _read(kube, "subtle", "/api/v1/namespaces/pss/pods/legacy-0")
    [app] = pod["spec"]["containers"]
    assert app["resources"]["requests"] == {"cpu": "500m", "memory": "256Mi"}
    deployment = _read(kube, "broken", "/apis/apps/v1/namespaces/valeo/deployments/web")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    statefulset = _read(kube, "broken", "/apis/apps/v1/namespaces/valeo/statefulsets/queue")
    assert statefulset["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0},
    }
    namespace = _read(kube, "subtle", "/api/v1/namespaces/np-calico")
    assert namespace["metadata"]["labels"] == {
        "tier": "payments",
        "kubernetes.io/metadata.name": "np-calico",
    }
