"""``kube_workloads``: Deployments, StatefulSets and DaemonSets rolled out, their pods healthy.

Rolled out means what ``kubectl rollout status`` means (kubectl
``pkg/polymorphichelpers/rollout_status.go``; reference/probe-protocols.md, section 6):

- Deployment: the controller has seen the spec (generation <= observedGeneration); the
  Progressing condition is not ``ProgressDeadlineExceeded`` (that reason means the
  rollout failed); updated >= spec.replicas; no old replicas left; available >= updated.
- StatefulSet: observedGeneration set and current; ready >= spec.replicas; with a
  partition, updated >= replicas - partition, else updateRevision == currentRevision.
  kubectl gives no status for ``OnDelete``; here its pods must all be at the update
  revision, because until someone deletes the old ones the release is not running.
- DaemonSet: generation observed; updated and available >= desiredNumberScheduled.

``omitempty`` status counters that are absent are 0; an absent ``spec.replicas`` is 1
(the API default). Pods are those the workload's selector matches, minus terminating and
finished ones; containers and init containers both count for waiting reasons and restarts.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field

from ...clients.kubernetes import (
    DAEMONSETS,
    DEPLOYMENTS,
    PODS,
    STATEFULSETS,
    KubeClient,
    KubeTarget,
    Obj,
    Resource,
)
from ...clients.kubernetes import connect as kube_connect
from ...formats.kubernetes import (
    condition,
    field,
    is_terminating,
    items,
    labels,
    mapping,
    name,
    number,
    selector_matches,
)
from ...probe import Evidence, Observation, ProbeContext, ProbeType, Value, register

CRASH_REASONS = frozenset({"CrashLoopBackOff"})
#: kubelet ``pkg/kubelet/images/types.go`` (and the older RegistryUnavailable).
IMAGE_PULL_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "ImageInspectError",
        "RegistryUnavailable",
        "SignatureValidationFailed",
    }
)
_KINDS: dict[str, Resource] = {
    "deployment": DEPLOYMENTS,
    "statefulset": STATEFULSETS,
    "daemonset": DAEMONSETS,
}


class KubeWorkloadsConfig(KubeTarget):
    type: Literal["kube_workloads"] = "kube_workloads"
    deployments: list[str] = Field(default_factory=list)
    statefulsets: list[str] = Field(default_factory=list)
    daemonsets: list[str] = Field(default_factory=list)
    #: A label selector (``app.kubernetes.io/part-of=valeo``) choosing workloads of all
    #: three kinds, besides any named. Neither names nor selector: every workload.
    selector: str | None = None


def deployment_rollout(deployment: Obj) -> tuple[bool, str]:
    status = mapping(deployment, "status")
    if number(deployment, "metadata", "generation") > number(status, "observedGeneration"):
        return False, "waiting for the spec update to be observed"
    progressing = condition(deployment, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return False, f"exceeded its progress deadline ({progressing.get('message', '')})".replace(" ()", "")
    replicas = number(deployment, "spec", "replicas", default=1)
    updated = number(status, "updatedReplicas")
    total = number(status, "replicas")
    available = number(status, "availableReplicas")
    paused = " (paused)" if field(deployment, "spec", "paused") else ""
    if updated < replicas:
        return False, f"{updated} of {replicas} new replicas updated{paused}"
    if total > updated:
        return False, f"{total - updated} old replicas pending termination{paused}"
    if available < updated:
        return False, f"{available} of {updated} updated replicas available{paused}"
    return True, f"{available}/{replicas} available"


def statefulset_rollout(statefulset: Obj) -> tuple[bool, str]:
    status = mapping(statefulset, "status")
    observed = number(status, "observedGeneration")
    if observed == 0 or number(statefulset, "metadata", "generation") > observed:
        return False, "waiting for the spec update to be observed"
    replicas = number(statefulset, "spec", "replicas", default=1)
    ready = number(status, "readyReplicas")
    if ready < replicas:
        return False, f"{ready} of {replicas} pods ready"
    updated = number(status, "updatedReplicas")
    strategy = field(statefulset, "spec", "updateStrategy", "type") or "RollingUpdate"
    if strategy == "OnDelete":
        if updated < replicas:
            return False, f"{updated} of {replicas} pods at the new revision (OnDelete: delete the old pods)"
        return True, f"{ready}/{replicas} ready"
    partition = field(statefulset, "spec", "updateStrategy", "rollingUpdate", "partition")
    if isinstance(partition, int):
        if updated < replicas - partition:
            if partition == 0:  # the API server's default: an ordinary rolling update
                at = f"{updated} of {replicas} pods at revision {status.get('updateRevision')}"
                return False, f"{at}, rolling update not complete"
            return False, f"partitioned rollout: {updated} of {replicas - partition} new pods updated"
        return True, f"{ready}/{replicas} ready" + (f", partition {partition}" if partition else "")
    if status.get("updateRevision") != status.get("currentRevision"):
        return (
            False,
            f"{updated} pods at revision {status.get('updateRevision')}, rolling update not complete",
        )
    return True, f"{ready}/{replicas} ready"


def daemonset_rollout(daemonset: Obj) -> tuple[bool, str]:
    status = mapping(daemonset, "status")
    if number(daemonset, "metadata", "generation") > number(status, "observedGeneration"):
        return False, "waiting for the spec update to be observed"
    desired = number(status, "desiredNumberScheduled")
    updated = number(status, "updatedNumberScheduled")
    available = number(status, "numberAvailable")
    if updated < desired:
        return False, f"{updated} of {desired} new pods updated"
    if available < desired:
        return False, f"{available} of {desired} updated pods available"
    return True, f"{available}/{desired} available"


_ROLLOUT = {
    "deployment": deployment_rollout,
    "statefulset": statefulset_rollout,
    "daemonset": daemonset_rollout,
}


async def _select(kube: KubeClient, config: KubeWorkloadsConfig) -> list[tuple[str, Obj]]:
    named = {
        "deployment": config.deployments,
        "statefulset": config.statefulsets,
        "daemonset": config.daemonsets,
    }
    calls: list[tuple[str, Any]] = [
        (kind, kube.get(_KINDS[kind], workload)) for kind, names in named.items() for workload in names
    ]
    if config.selector is not None or not any(named.values()):
        calls += [
            (kind, kube.objects(resource, label_selector=config.selector))
            for kind, resource in _KINDS.items()
        ]
    answers = await asyncio.gather(*(call for _, call in calls))
    chosen: dict[tuple[str, str], Obj] = {}
    for (kind, _), answer in zip(calls, answers, strict=True):
        for workload in answer if isinstance(answer, list) else [answer]:
            chosen[(kind, name(workload))] = workload
    return [(kind, chosen[(kind, workload_name)]) for kind, workload_name in sorted(chosen)]


def _pod_problems(pod: Obj, found: dict[str, Any]) -> None:
    """Sort one pod's container states into the lists of ``found``."""
    pod_name = name(pod)
    statuses = [(f"init:{s.get('name')}", s) for s in items(pod, "status", "initContainerStatuses")]
    statuses += [(str(s.get("name")), s) for s in items(pod, "status", "containerStatuses")]
    waiting_reasons = []
    for label, status in statuses:
        restarts = number(status, "restartCount")
        if restarts:
            found["restarts"][f"{pod_name}/{label}"] = restarts
        reason = field(status, "state", "waiting", "reason")
        if not reason:
            continue
        waiting_reasons.append(f"{label} {reason}")
        if reason in CRASH_REASONS:
            found["crashlooping"].append(f"{pod_name}/{label}: {reason} ({restarts} restarts)")
        elif reason in IMAGE_PULL_REASONS:
            found["image_pull"].append(f"{pod_name}/{label}: {reason} ({status.get('image', '?')})")
    ready = condition(pod, "Ready")
    if ready is None or ready.get("status") != "True":
        phase = field(pod, "status", "phase") or "Unknown"
        scheduled = condition(pod, "PodScheduled") or {}
        if scheduled.get("status") == "False":  # no node yet: say why the scheduler refused
            waiting_reasons.insert(0, str(scheduled.get("reason") or "not scheduled"))
        why = ", ".join(waiting_reasons) or str((ready or {}).get("reason") or "not ready")
        found["not_ready"].append(f"{pod_name}: {phase}, {why}")


async def gather(config: KubeWorkloadsConfig, context: ProbeContext) -> Observation:
    async with kube_connect(config, context) as kube:
        workloads, pods = await asyncio.gather(_select(kube, config), kube.objects(PODS))
    found: dict[str, Any] = {"crashlooping": [], "image_pull": [], "not_ready": [], "restarts": {}}
    summary, not_rolled_out = [], []
    checked: set[str] = set()
    for kind, workload in workloads:
        done, reason = _ROLLOUT[kind](workload)
        if not done:
            not_rolled_out.append(f"{kind}/{name(workload)}: {reason}")
        selector = field(workload, "spec", "selector")
        own = [
            pod
            for pod in pods
            if selector_matches(selector, labels(pod))
            and not is_terminating(pod)
            and field(pod, "status", "phase") not in ("Succeeded", "Failed")
        ]
        for pod in own:
            if name(pod) not in checked:
                checked.add(name(pod))
                _pod_problems(pod, found)
        summary.append(
            {"kind": kind, "name": name(workload), "rolled_out": done, "status": reason, "pods": len(own)}
        )
    restarts: dict[str, int] = found["restarts"]
    values = {
        "WORKLOADS": summary,
        "NOT_ROLLED_OUT": not_rolled_out,
        "CRASHLOOPING": found["crashlooping"],
        "IMAGE_PULL_ERRORS": found["image_pull"],
        "NOT_READY_PODS": found["not_ready"],
        "MAX_RESTARTS": max(restarts.values(), default=0),
        "RESTARTS": dict(sorted(restarts.items(), key=lambda kv: -kv[1])[:20]),
        "PODS": len(checked),
    }
    return Observation(
        values=values, evidence=Evidence(kube.source(), context.now()), message=_message(values)
    )


def _message(values: dict[str, Any]) -> str:
    if not values["WORKLOADS"]:
        return "no Deployment, StatefulSet or DaemonSet matched"
    parts = [f"{len(values['WORKLOADS'])} workload(s), {values['PODS']} pod(s)"]
    for key, label in (
        ("NOT_ROLLED_OUT", "not rolled out"),
        ("CRASHLOOPING", "crash-looping"),
        ("IMAGE_PULL_ERRORS", "image pull errors"),
        ("NOT_READY_PODS", "not ready"),
    ):
        if values[key]:
            shown = "; ".join(values[key][:3]) + (
                f"; … {len(values[key]) - 3} more" if len(values[key]) > 3 else ""
            )
            parts.append(f"{label}: {shown}")
    if len(parts) == 1:
        parts.append("all rolled out and ready")
    return "; ".join(parts)


KUBE_WORKLOADS = register(
    ProbeType(
        name="kube_workloads",
        summary="Deployments/StatefulSets/DaemonSets rolled out (kubectl's rules); pods ready, "
        "no crash loops, no image pull errors.",
        config_model=KubeWorkloadsConfig,
        gather=gather,
        values=(
            Value("WORKLOADS", "kind, name, rolled_out, status, pods per workload", structured=True),
            Value("NOT_ROLLED_OUT", "workloads whose rollout is not complete, with the reason"),
            Value("CRASHLOOPING", "pod/container in CrashLoopBackOff (init containers as init:<name>)"),
            Value("IMAGE_PULL_ERRORS", "pod/container waiting on an image pull error"),
            Value("NOT_READY_PODS", "pods whose Ready condition is not True, with phase and reasons"),
            Value("MAX_RESTARTS", "highest restart count of any container of the workloads' pods"),
            Value("RESTARTS", "pod/container → restart count, for those that restarted", structured=True),
            Value("PODS", "pods checked"),
        ),
        default_conditions=(
            "len([WORKLOADS]) > 0",
            "len([NOT_ROLLED_OUT]) == 0",
            "len([CRASHLOOPING]) == 0",
            "len([IMAGE_PULL_ERRORS]) == 0",
            "len([NOT_READY_PODS]) == 0",
            "[MAX_RESTARTS] <= 5",
        ),
        reading=(
            (
                "Rolled out means what `kubectl rollout status` means: the controller has observed the "
                "spec, the Deployment's Progressing condition is not ProgressDeadlineExceeded, updated "
                "and available replicas reach `spec.replicas`, no old replicas are left."
            ),
            (
                "A StatefulSet's RollingUpdate always has a partition (the API server defaults it to 0), "
                "so updated pods must reach replicas minus partition; OnDelete needs every pod at the "
                "update revision, since until the old pods are deleted the release is not running."
            ),
            (
                "Absent status counters are 0 and an absent `spec.replicas` is 1, the API's defaults; "
                "terminating and finished pods are not judged."
            ),
        ),
        example={
            "type": "kube_workloads",
            "kubeconfig": "~/.kube/config",
            "context": "prod",
            "namespace": "valeo",
            "deployments": ["neuroerp-api", "neuroerp-web"],
            "statefulsets": ["neuroerp-db"],
        },
    )
)
