"""``kube_workloads`` against the fake API server: kubectl's rollout rules, pod states."""

from __future__ import annotations

from typing import Any

import pytest

from golive.checks.families.kubernetes.workloads import (
    daemonset_rollout,
    deployment_rollout,
    statefulset_rollout,
)
from golive.checks.status import Status

from .support import Kube, run_one


async def test_healthy_namespace_is_rolled_out_and_ready(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_workloads", "healthy", namespace="valeo"))
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert [(w["kind"], w["name"], w["rolled_out"]) for w in observed["WORKLOADS"]] == [
        ("daemonset", "log-agent", True),
        ("deployment", "api", True),
        ("deployment", "web", True),
        ("statefulset", "db", True),
    ]
    # api 3 (the terminating pod of the old ReplicaSet left out), web 1, db 2, log-agent 2;
    # the finished migration Job pod belongs to none of them.
    assert observed["PODS"] == 8
    assert observed["NOT_ROLLED_OUT"] == []
    assert observed["NOT_READY_PODS"] == []
    assert observed["MAX_RESTARTS"] == 2
    assert observed["RESTARTS"] == {"api-7d9c5b-aaaaa/api": 2, "web-5f6d8-xxxxx/web": 1}
    assert result.message == "4 workload(s), 8 pod(s); all rolled out and ready"


async def test_label_selectors_choose_workloads_equality_and_set_based(kube: Kube) -> None:
    part_of = await run_one(
        kube.probe("kube_workloads", "healthy", namespace="valeo", selector="app.kubernetes.io/part-of=valeo")
    )
    assert [w["name"] for w in part_of.observed["WORKLOADS"]] == ["api", "web", "db"]
    chosen = await run_one(
        kube.probe("kube_workloads", "healthy", namespace="valeo", selector="app in (api,db),app!=web")
    )
    assert [w["name"] for w in chosen.observed["WORKLOADS"]] == ["api", "db"]
    assert chosen.status == Status.PASS


async def test_a_restart_limit_is_a_condition(kube: Kube) -> None:
    result = await run_one(
        kube.probe("kube_workloads", "healthy", namespace="valeo", deployments=["api"]),
        conditions=["[MAX_RESTARTS] <= 1"],
    )
    assert result.status == Status.FAIL
    assert "[MAX_RESTARTS] = 2, limit <= 1" in result.message


async def test_progress_deadline_exceeded_is_a_failed_rollout(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_workloads", "broken", namespace="valeo", deployments=["api"]))
    assert result.status == Status.FAIL
    assert result.observed["NOT_ROLLED_OUT"] == [
        'deployment/api: exceeded its progress deadline (ReplicaSet "api-85f7c" has timed out progressing.)'
    ]
    assert "len([NOT_ROLLED_OUT]) = 1, limit == 0" in result.message


async def test_crash_loop_is_found_with_its_restarts(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_workloads", "broken", namespace="valeo", deployments=["worker"]))
    assert result.status == Status.FAIL
    observed = result.observed
    assert observed["CRASHLOOPING"] == ["worker-6c8d9-bbbbb/worker: CrashLoopBackOff (14 restarts)"]
    assert observed["NOT_READY_PODS"] == ["worker-6c8d9-bbbbb: Running, worker CrashLoopBackOff"]
    assert observed["NOT_ROLLED_OUT"] == ["deployment/worker: 1 of 2 updated replicas available"]
    assert observed["MAX_RESTARTS"] == 14
    assert "crash-looping: worker-6c8d9-bbbbb/worker" in result.message
    assert "[MAX_RESTARTS] = 14, limit <= 5" in result.message


async def test_image_pull_error_in_an_init_container(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_workloads", "broken", namespace="valeo", deployments=["web"]))
    assert result.status == Status.FAIL
    observed = result.observed
    assert observed["IMAGE_PULL_ERRORS"] == [
        "web-7b9f8-ccccc/init:fetch-assets: ImagePullBackOff (ghcr.io/valeo/neuroerp-assets:1.1.0)"
    ]
    assert observed["NOT_READY_PODS"] == [
        "web-7b9f8-ccccc: Pending, init:fetch-assets ImagePullBackOff, web PodInitializing"
    ]
    # No spec.replicas (1 wanted) and a status without counters (all 0).
    assert observed["NOT_ROLLED_OUT"] == ["deployment/web: 0 of 1 new replicas updated"]
    assert observed["CRASHLOOPING"] == []


async def test_statefulset_and_daemonset_rollout_rules(kube: Kube) -> None:
    result = await run_one(
        kube.probe(
            "kube_workloads",
            "broken",
            namespace="valeo",
            statefulsets=["db", "cache", "queue"],
            daemonsets=["log-agent"],
        )
    )
    assert result.status == Status.FAIL
    assert result.observed["NOT_ROLLED_OUT"] == [
        "daemonset/log-agent: waiting for the spec update to be observed",
        "statefulset/cache: 1 of 2 pods at the new revision (OnDelete: delete the old pods)",
        "statefulset/db: partitioned rollout: 1 of 2 new pods updated",
        # No rollingUpdate written: the API server defaults partition 0, the whole set.
        "statefulset/queue: 0 of 1 pods at revision queue-4d, rolling update not complete",
    ]


def _deployment(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"generation": 2}, "spec": spec, "status": status}


@pytest.mark.parametrize(
    ("deployment", "done", "reason"),
    [
        (_deployment({"observedGeneration": 1}), False, "waiting for the spec update to be observed"),
        (
            _deployment({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2}, replicas=2),
            False,
            "0 of 2 updated replicas available",
        ),
        (
            _deployment(
                {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2},
                replicas=2,
            ),
            False,
            "1 old replicas pending termination",
        ),
        (
            _deployment({"observedGeneration": 2, "updatedReplicas": 1}, replicas=3, paused=True),
            False,
            "1 of 3 new replicas updated (paused)",
        ),
        (_deployment({"observedGeneration": 2}, replicas=0), True, "0/0 available"),
    ],
)
def test_deployment_rules(deployment: dict[str, Any], done: bool, reason: str) -> None:
    assert deployment_rollout(deployment) == (done, reason)


def test_statefulset_without_observed_generation_is_not_observed() -> None:
    statefulset = {"metadata": {"generation": 0}, "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}
    assert statefulset_rollout(statefulset) == (False, "waiting for the spec update to be observed")


def test_daemonset_waits_for_available_pods() -> None:
    daemonset = {
        "metadata": {"generation": 1},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": 3,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert daemonset_rollout(daemonset) == (False, "2 of 3 updated pods available")
