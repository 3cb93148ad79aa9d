"""``kube_capacity``, ``kube_autoscaling`` and ``kube_storage`` against the fake API server."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from golive.checks.errors import ChecklistError
from golive.checks.families.kubernetes.capacity import pod_requests
from golive.checks.loader import loads
from golive.checks.status import Status

from .support import Kube, checklist_yaml, item, run_one


async def test_headroom_of_a_healthy_cluster(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_capacity", "healthy"))
    assert result.status == Status.PASS, result.message
    nodes = {n["name"]: n for n in result.observed["NODES"]}
    # node-a: api ×2 and a terminating api pod (250m/256Mi each), db-0 (the 2-CPU init
    # container outweighs the 500m container; 2Gi), log-agent (100m/"128974848" = 123Mi),
    # prometheus-0 ("0.5" + 250m overhead; "129e6" + 120Mi overhead). The finished Job
    # pod (3 CPU, 8Gi) does not count.
    assert (nodes["node-a"]["cpu_requested"], nodes["node-a"]["memory_requested_gib"]) == (3.6, 3.11)
    assert nodes["node-a"]["cpu_percent"] == 90.0
    assert nodes["node-a"]["pods"] == 6
    # node-b: api 250m/256Mi, web 300m/192Mi (sidecar added), db-1 2/2Gi, log-agent
    # 100m/123Mi, batch 1/1Gi (pod-level resources, not the containers' 100m/100Mi).
    assert (nodes["node-b"]["cpu_requested"], nodes["node-b"]["memory_requested_gib"]) == (3.65, 3.56)
    assert nodes["node-b"]["memory_allocatable_gib"] == 15.63  # 16393216Ki
    assert nodes["node-b"]["cpu_allocatable"] == 7.92  # 7920m
    observed = result.observed
    assert observed["EXCLUDED_NODES"] == ["cp-1: tainted node-role.kubernetes.io/control-plane:NoSchedule"]
    assert observed["SCHEDULABLE_NODES"] == 2
    assert observed["CPU_REQUESTED_PERCENT"] == 60.8  # 7.25 of 11.92
    assert observed["MEMORY_REQUESTED_PERCENT"] == 21.1
    assert observed["CPU_HEADROOM_CORES"] == 4.67
    assert observed["MEMORY_HEADROOM_GIB"] == 24.97
    assert observed["MAX_NODE_CPU_PERCENT"] == 90.0
    assert observed["OVERCOMMITTED"] == []
    assert observed["UNSCHEDULABLE_PODS"] == []


async def test_node_selector_and_a_per_node_limit(kube: Kube) -> None:
    result = await run_one(
        kube.probe("kube_capacity", "healthy", node_selector="pool=apps"),
        conditions=["[MAX_NODE_CPU_PERCENT] < 80"],
    )
    assert [n["name"] for n in result.observed["NODES"]] == ["node-a", "node-b"]
    assert result.status == Status.FAIL
    assert "[MAX_NODE_CPU_PERCENT] = 90%, limit < 80%" in result.message


async def test_overcommitted_and_not_ready_nodes_and_unschedulable_pods(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_capacity", "broken"))
    assert result.status == Status.FAIL
    observed = result.observed
    # 4 × 256Mi in valeo plus a 7680Mi pod bound by nodeName: 8.5 GiB on 8 GiB.
    assert observed["OVERCOMMITTED"] == ["node-a: memory requests 8.5 > 8.0 GiB allocatable"]
    assert observed["NOT_READY_NODES"] == ["node-b"]
    assert observed["EXCLUDED_NODES"] == ["node-b: NotReady"]
    assert observed["MEMORY_REQUESTED_PERCENT"] == 106.2
    assert observed["MEMORY_HEADROOM_GIB"] == 0.0
    [pending] = observed["UNSCHEDULABLE_PODS"]
    assert pending.startswith("valeo-jobs/batch-import: 0/2 nodes are available: 1 Insufficient memory")
    assert "len([OVERCOMMITTED]) = 1, limit == 0" in result.message


async def test_nearly_full_with_a_cordoned_node(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_capacity", "degraded"))
    assert result.status == Status.FAIL
    # The container has only limits; its requests default to them (1900m of 2).
    assert result.observed["CPU_REQUESTED_PERCENT"] == 95.0
    assert result.observed["EXCLUDED_NODES"] == ["node-b: cordoned"]
    assert result.observed["NOT_READY_NODES"] == []
    assert "[CPU_REQUESTED_PERCENT] = 95%, limit <= 85%" in result.message


def _container(cpu: str, memory: str) -> dict[str, Any]:
    return {"resources": {"requests": {"cpu": cpu, "memory": memory}}}


def test_sidecars_count_with_later_init_containers() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {
            "initContainers": [
                {**_container("200m", "100Mi"), "restartPolicy": "Always"},
                # runs while the sidecar runs: 1 + 0.2 CPU, more than the containers' sum
                _container("1", "50Mi"),
            ],
            "containers": [_container("500m", "1Ki"), _container("0.25", "1e3")],
        },
    }
    requests = pod_requests(pod)
    assert requests["cpu"] == Decimal("1.2")
    assert requests["memory"] == 150 * 2**20  # init 50Mi + sidecar 100Mi beats 100Mi + 1Ki + 1000


async def test_hpas_present_and_scaling(kube: Kube) -> None:
    result = await run_one(
        kube.probe(
            "kube_autoscaling", "healthy", namespace="valeo", workloads=["deployment/api", "Deployment/web"]
        )
    )
    assert result.status == Status.PASS, result.message
    assert [{k: v for k, v in h.items() if k != "metrics"} for h in result.observed["HPAS"]] == [
        {"name": "api", "target": "Deployment/api", "min": 3, "max": 10, "current": 3, "desired": 3},
        {"name": "web", "target": "Deployment/web", "min": 1, "max": 4, "current": 1, "desired": 1},
    ]


async def test_hpa_without_metrics_and_a_workload_without_hpa(kube: Kube) -> None:
    result = await run_one(
        kube.probe(
            "kube_autoscaling", "broken", namespace="valeo", workloads=["deploy/api", "deployment/web"]
        )
    )
    assert result.status == Status.FAIL
    observed = result.observed
    assert observed["WORKLOADS_WITHOUT_HPA"] == ["Deployment/web"]
    assert observed["SCALING_INACTIVE"] == [
        "api: ScalingActive False (FailedGetResourceMetric: the HPA was unable to compute the replica count: "
        "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from "
        "resource metrics API)",
        "worker: no ScalingActive condition yet",
    ]
    assert [e.split(":")[:2] for e in observed["METRIC_ERRORS"]] == [["api", " FailedGetResourceMetric"]]
    assert observed["AT_MAX_REPLICAS"] == ["api: 3 of at most 3 replicas"]
    assert "no HPA for Deployment/web" in result.message


def test_autoscaling_workloads_must_name_a_kind() -> None:
    text = checklist_yaml([item("hpa", {"type": "kube_autoscaling", "workloads": ["api", "pod/x"]})])
    with pytest.raises(ChecklistError) as raised:
        loads(text, env={})
    [problem] = raised.value.problems
    assert (problem.where, problem.field) == ("item hpa", "probe.workloads")
    assert "'api': write deployment/<name> or statefulset/<name>" in problem.message


async def test_default_storage_class_and_bound_claims(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_storage", "healthy", namespace="valeo"))
    assert result.status == Status.PASS, result.message
    assert result.observed["DEFAULT_STORAGE_CLASS"] == "standard"
    assert [p["phase"] for p in result.observed["PVCS"]] == ["Bound", "Bound"]
    assert result.message == "default StorageClass standard; 2 of 2 PVCs bound"


async def test_no_default_class_and_pending_claims(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_storage", "broken", namespace="valeo"))
    assert result.status == Status.FAIL
    # "True" is not "true": the annotation value must match exactly.
    assert result.observed["DEFAULT_STORAGE_CLASS"] is None
    assert result.observed["UNBOUND_PVCS"] == [
        "scratch: Pending (no storage class and no default StorageClass)",
        "uploads: Pending (StorageClass premium does not exist)",
    ]
    assert "has([DEFAULT_STORAGE_CLASS]) = false, limit == true" in result.message


async def test_legacy_default_annotation_and_the_newest_default_wins(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_storage", "degraded", namespace="valeo"))
    # The Pending claim's class binds on first consumer: waiting for a pod, not unbound.
    assert result.status == Status.PASS, result.message
    assert result.observed["DEFAULT_STORAGE_CLASSES"] == ["ceph-rbd", "standard"]
    assert result.observed["DEFAULT_STORAGE_CLASS"] == "ceph-rbd"
    assert result.observed["UNBOUND_PVCS"] == []
    assert result.observed["WAITING_FOR_FIRST_CONSUMER"] == ["reports-cache (StorageClass ceph-rbd)"]
    assert "2 classes marked default; the newest wins" in result.message


async def test_a_claim_without_class_waits_for_its_first_consumer_under_the_default(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_storage", "subtle", namespace="storage"))
    assert result.status == Status.PASS, result.message
    assert result.observed["WAITING_FOR_FIRST_CONSUMER"] == ["export-scratch (StorageClass gp3)"]
    assert "waiting for a first consumer: export-scratch (StorageClass gp3)" in result.message


async def test_a_claim_with_a_selected_node_and_no_volume_is_unbound(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_storage", "subtle", namespace="storage-stuck"))
    assert result.status == Status.FAIL
    assert result.observed["WAITING_FOR_FIRST_CONSUMER"] == []
    assert result.observed["UNBOUND_PVCS"] == [
        "ledger: Pending (node node-a selected for its first consumer, but no volume was provisioned)"
    ]


async def test_an_hpa_with_one_broken_metric_of_two_is_not_healthy(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_autoscaling", "subtle", namespace="scaling"))
    assert result.status == Status.FAIL
    observed = result.observed
    # ScalingActive stays True while the CPU metric works.
    assert observed["SCALING_INACTIVE"] == []
    assert observed["METRIC_ERRORS"] == ["worker: metric 2 of 2 (External queue_length) has no current value"]
    # web: no metrics written, the defaulted CPU metric is read.
    assert {h["name"]: h["metrics"] for h in observed["HPAS"]} == {
        "web": ["Resource cpu"],
        "worker": ["Resource cpu", "External queue_length"],
    }
    assert "metrics failing: worker: metric 2 of 2 (External queue_length)" in result.message


async def test_pending_pods_count_in_the_items_scope_only(kube: Kube) -> None:
    scoped = await run_one(
        kube.probe("kube_capacity", "subtle", node_selector="pool=apps", namespaces=["valeo"])
    )
    observed = scoped.observed
    # analytics/etl-0 is another team's, and it could only go to the batch pool anyway.
    assert observed["UNSCHEDULABLE_PODS"] == [
        "valeo/report-0: 0/2 nodes are available: 2 Insufficient cpu. "
        "(cluster autoscaler: pod didn't trigger scale-up: 1 Insufficient cpu)"
    ]
    assert observed["WAITING_FOR_SCALE_UP"] == [
        "valeo/api-7d9c5b-ddddd: pod triggered scale-up: [{apps-pool 2->3 (max: 6)}]",
        "valeo/web-5f6d8-yyyyy: unschedulable for 1 min, the cluster autoscaler may still add a node",
    ]
    assert scoped.status == Status.FAIL  # report-0 cannot be placed
    assert "waiting for the cluster autoscaler: valeo/api-7d9c5b-ddddd" in scoped.message
    # Only the node selector: etl-0 cannot land on pool=apps, so it is not this item's.
    nodes_only = await run_one(kube.probe("kube_capacity", "subtle", node_selector="pool=apps"))
    assert [p.split(":")[0] for p in nodes_only.observed["UNSCHEDULABLE_PODS"]] == ["valeo/report-0"]
    everything = await run_one(kube.probe("kube_capacity", "subtle"))
    assert [p.split(":")[0] for p in everything.observed["UNSCHEDULABLE_PODS"]] == [
        "analytics/etl-0",
        "valeo/report-0",
    ]
    # Told that no autoscaler runs, a fresh Unschedulable pod without an event is stuck.
    without = await run_one(
        kube.probe("kube_capacity", "subtle", namespaces=["valeo"], cluster_autoscaler="absent")
    )
    assert [p.split(":")[0] for p in without.observed["UNSCHEDULABLE_PODS"]] == [
        "valeo/report-0",
        "valeo/web-5f6d8-yyyyy",
    ]


async def test_a_pod_being_resized_counts_the_larger_of_spec_and_allocated(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_capacity", "subtle", node_selector="pool=apps"))
    [node] = result.observed["NODES"]
    # portal 500m + legacy 500m (requests defaulted from limits) + search 2 (allocated, not the spec's 1).
    assert node["cpu_requested"] == 3.0
