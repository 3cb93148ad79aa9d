"""The Kubernetes probe types are registered with a loadable example; and the exact API
calls they make, which is what their least-privilege RBAC Role must allow."""

from __future__ import annotations

import pytest

from golive.checks.clients.kubernetes import KubeTarget
from golive.checks.loader import loads
from golive.checks.probe import all_probe_types
from golive.checks.status import Status

from .support import Kube, checklist_yaml, item, run

KUBE_PROBES = [
    "kube_workloads",
    "helm_release",
    "kube_ingress",
    "kube_services",
    "kube_network_policies",
    "kube_autoscaling",
    "kube_storage",
    "kube_capacity",
    "kube_pod_security",
    "kube_secret_refs",
    "velero_backups",
    "kube_cronjobs",
]

#: (verb, API group, resource, scope): namespaced calls go to one namespace; cluster-wide
#: ones are cluster-scoped resources or lists across all namespaces.
RBAC = {
    ("get", "apps", "deployments", "namespaced"),
    ("list", "apps", "deployments", "namespaced"),
    ("get", "apps", "statefulsets", "namespaced"),
    ("list", "apps", "statefulsets", "namespaced"),
    ("get", "apps", "daemonsets", "namespaced"),
    ("list", "apps", "daemonsets", "namespaced"),
    ("list", "", "pods", "namespaced"),
    ("list", "", "pods", "cluster-wide"),
    ("list", "", "nodes", "cluster-wide"),
    ("list", "", "events", "cluster-wide"),
    ("get", "", "namespaces", "cluster-wide"),
    ("list", "", "services", "namespaced"),
    ("list", "", "secrets", "namespaced"),
    ("list", "", "configmaps", "namespaced"),
    ("list", "", "persistentvolumeclaims", "namespaced"),
    ("list", "discovery.k8s.io", "endpointslices", "namespaced"),
    ("get", "networking.k8s.io", "ingresses", "namespaced"),
    ("list", "networking.k8s.io", "ingresses", "namespaced"),
    ("list", "networking.k8s.io", "networkpolicies", "namespaced"),
    ("list", "autoscaling", "horizontalpodautoscalers", "namespaced"),
    ("list", "storage.k8s.io", "storageclasses", "cluster-wide"),
    ("get", "batch", "cronjobs", "namespaced"),
    ("list", "batch", "cronjobs", "namespaced"),
    ("list", "velero.io", "schedules", "namespaced"),
    ("list", "velero.io", "backups", "namespaced"),
    ("list", "velero.io", "restores", "namespaced"),
    ("list", "velero.io", "backupstoragelocations", "namespaced"),
}


@pytest.mark.parametrize("name", KUBE_PROBES)
def test_example_loads_with_the_default_conditions(name: str) -> None:
    probe_type = all_probe_types()[name]
    checklist = loads(checklist_yaml([item("example", dict(probe_type.example))]), env={})
    loaded = checklist.item("example")
    assert isinstance(loaded.config, probe_type.config_model)
    assert isinstance(loaded.config, KubeTarget)
    assert [c.text for c in loaded.parsed_conditions] == list(probe_type.default_conditions)
    names = [v.name for v in probe_type.values]
    assert len(names) == len(set(names))


async def test_every_probe_on_a_healthy_cluster_and_the_api_calls_they_make(kube: Kube) -> None:
    def probe(probe_type: str, **config: object) -> dict[str, object]:
        return kube.probe(probe_type, "healthy", **config)

    items = [
        item(
            "workloads",
            probe(
                "kube_workloads",
                namespace="valeo",
                deployments=["api"],
                statefulsets=["db"],
                daemonsets=["log-agent"],
                selector="app=web",
            ),
        ),
        item("workloads-all", probe("kube_workloads", namespace="valeo")),
        item("helm", probe("helm_release", namespace="valeo", release="neuroerp")),
        item("helm-cm", probe("helm_release", namespace="valeo-tools", release="tools", storage="configmap")),
        item("ingress", probe("kube_ingress", namespace="valeo", ingresses=["valeo"])),
        item("ingress-all", probe("kube_ingress", namespace="valeo")),
        item("services", probe("kube_services", namespace="valeo")),
        item("policies", probe("kube_network_policies", namespaces=["valeo", "valeo-jobs"])),
        item("hpa", probe("kube_autoscaling", namespace="valeo", workloads=["deployment/api"])),
        item("storage", probe("kube_storage", namespace="valeo")),
        item("capacity", probe("kube_capacity")),
        item("security", probe("kube_pod_security", namespace="valeo")),
        item("secrets", probe("kube_secret_refs", namespace="valeo")),
        item("velero", probe("velero_backups")),
        item("cronjob", probe("kube_cronjobs", namespace="valeo", cronjobs=["pg-dump"])),
        item("cronjobs", probe("kube_cronjobs", namespace="valeo")),
    ]
    before = len(kube.server.calls())
    results = await run(*items)
    assert {r.item_id: r.status for r in results.values()} == dict.fromkeys(results, Status.PASS)
    assert {i["probe"]["type"] for i in items} == set(KUBE_PROBES)
    calls = kube.server.calls()[before:]
    made = {(c.verb, c.group, c.resource, "namespaced" if c.namespace else "cluster-wide") for c in calls}
    assert made == RBAC
    # Helm's secrets are listed by label only: RBAC cannot narrow a list by label, so the
    # Role grants list on secrets in the release namespace (see the report).
    assert {c.label_selector for c in calls if c.resource == "secrets"} == {"owner=helm,name=neuroerp"}
