"""What the release stands on: ``kube_autoscaling`` (HPAs) and ``kube_storage``.

Facts from reference/probe-protocols.md, section 6:

- HPA (``autoscaling/v2``): ScalingActive must be True; ``False`` with a ``FailedGet…Metric``
  reason means the metrics pipeline is broken (kubernetes
  ``pkg/controller/podautoscaler/horizontal.go``). AbleToScale False also stops scaling.
  ``currentReplicas`` is omitempty (absent = 0).
- StorageClass default: the annotation ``storageclass.kubernetes.io/is-default-class``
  with exactly ``"true"``, or the legacy ``storageclass.beta.kubernetes.io/…`` one. With
  several defaults, admission uses the newest.
- PVC: ``status.phase`` Pending, Bound or Lost. A claim without ``storageClassName``
  gets the default class (admission sets it, and since 1.28 sets it later too). A claim
  of a ``volumeBindingMode: WaitForFirstConsumer`` class stays Pending until a pod using
  it is scheduled, which the scheduler marks with the ``volume.kubernetes.io/selected-node``
  annotation: Pending without it is waiting (a CronJob's volume before its first run),
  not unbound; Pending with it means provisioning failed.
- HPA metrics: the controller keeps ScalingActive True while at least one metric can
  be read (``computeReplicasForMetrics``); a metric it could not read shows only as an
  empty entry (no ``type``) at its index in ``status.currentMetrics``, which is compared
  with ``spec.metrics`` here. Without ``spec.metrics`` the API server defaults CPU at 80%.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from ...clients.kubernetes import HPAS, PVCS, STORAGECLASSES, KubeTarget, Obj
from ...clients.kubernetes import connect as kube_connect
from ...errors import PermanentProbeError
from ...formats.kubernetes import annotations_of, condition, field, items, mapping, name, number
from ...probe import Evidence, Observation, ProbeContext, ProbeType, Value, register

DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
_KIND_ALIASES = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "sts": "StatefulSet",
    "replicaset": "ReplicaSet",
    "replicasets": "ReplicaSet",
    "rs": "ReplicaSet",
}
SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node"
_WORKLOAD = re.compile(r"^([A-Za-z]+)/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$")


# --- kube_autoscaling -----------------------------------------------------------------


class KubeAutoscalingConfig(KubeTarget):
    type: Literal["kube_autoscaling"] = "kube_autoscaling"
    #: Workloads that must have an HPA, as ``deployment/<name>`` or ``statefulset/<name>``.
    workloads: list[str] = Field(default_factory=list)

    @field_validator("workloads")
    @classmethod
    def _kind_and_name(cls, value: list[str]) -> list[str]:
        normalised = []
        for entry in value:
            match = _WORKLOAD.match(entry.strip())
            kind = _KIND_ALIASES.get(match.group(1).lower()) if match else None
            if match is None or kind is None:
                raise ValueError(f"{entry!r}: write deployment/<name> or statefulset/<name>")
            normalised.append(f"{kind}/{match.group(2)}")
        return normalised


def _scaling_problems(hpa: Obj) -> list[str]:
    problems = []
    for kind in ("AbleToScale", "ScalingActive"):
        found = condition(hpa, kind)
        if found is None:
            if kind == "ScalingActive":
                problems.append(f"{name(hpa)}: no ScalingActive condition yet")
        elif found.get("status") != "True":
            why = f"{found.get('reason')}: {found.get('message', '')}"
            problems.append(f"{name(hpa)}: {kind} {found.get('status')} ({why})")
    return problems


def metric_name(metric: Obj) -> str:
    """``Resource cpu``, ``External queue_length``: a spec.metrics entry in words."""
    kind = str(metric.get("type") or "")
    source = mapping(metric, kind[:1].lower() + kind[1:])
    if kind in ("Resource", "ContainerResource"):
        label = str(source.get("name") or "")
        if kind == "ContainerResource":
            label += f" of container {source.get('container')}"
    else:
        label = str(field(source, "metric", "name") or "")
    return f"{kind} {label}".strip()


def broken_metrics(hpa: Obj) -> list[str]:
    """Metrics of spec.metrics whose currentMetrics entry is empty (the controller could
    not read them). Before the first status there is nothing to compare."""
    wanted = items(hpa, "spec", "metrics")
    current = field(hpa, "status", "currentMetrics")
    if not isinstance(current, list):
        return []
    broken = []
    for index, metric in enumerate(wanted):
        entry = current[index] if index < len(current) else None
        if not isinstance(entry, dict) or not entry.get("type"):
            which = f"metric {index + 1} of {len(wanted)} ({metric_name(metric)})"
            broken.append(f"{name(hpa)}: {which} has no current value")
    return broken


async def gather_autoscaling(config: KubeAutoscalingConfig, context: ProbeContext) -> Observation:
    async with kube_connect(config, context) as kube:
        hpas = await kube.objects(HPAS)
        source = kube.source()
    summary, inactive, metric_errors, at_max = [], [], [], []
    targets: set[str] = set()
    for hpa in sorted(hpas, key=name):
        reference = field(hpa, "spec", "scaleTargetRef") or {}
        target = f"{reference.get('kind')}/{reference.get('name')}"
        targets.add(target.lower())
        current = number(hpa, "status", "currentReplicas")
        maximum = number(hpa, "spec", "maxReplicas")
        summary.append(
            {
                "name": name(hpa),
                "target": target,
                "min": number(hpa, "spec", "minReplicas", default=1),
                "max": maximum,
                "current": current,
                "desired": number(hpa, "status", "desiredReplicas"),
                "metrics": [metric_name(m) for m in items(hpa, "spec", "metrics")],
            }
        )
        inactive += _scaling_problems(hpa)
        active = condition(hpa, "ScalingActive") or {}
        if str(active.get("reason", "")).startswith("FailedGet"):
            metric_errors.append(f"{name(hpa)}: {active.get('reason')}: {active.get('message', '')}")
        elif active.get("status") == "True":
            metric_errors += broken_metrics(hpa)
        if maximum and current >= maximum:
            at_max.append(f"{name(hpa)}: {current} of at most {maximum} replicas")
    missing = [w for w in config.workloads if w.lower() not in targets]
    values = {
        "HPAS": summary,
        "WORKLOADS_WITHOUT_HPA": missing,
        "SCALING_INACTIVE": inactive,
        "METRIC_ERRORS": metric_errors,
        "AT_MAX_REPLICAS": at_max,
    }
    parts = [f"{len(summary)} HPA(s)"]
    if missing:
        parts.append(f"no HPA for {', '.join(missing)}")
    if inactive:
        parts.append(f"cannot scale: {'; '.join(inactive)}")
    if metric_errors:
        parts.append(f"metrics failing: {'; '.join(metric_errors)}")
    return Observation(values=values, evidence=Evidence(source, context.now()), message="; ".join(parts))


KUBE_AUTOSCALING = register(
    ProbeType(
        name="kube_autoscaling",
        summary="HorizontalPodAutoscalers exist for the workloads, can scale (ScalingActive) and "
        "read every metric they scale on.",
        config_model=KubeAutoscalingConfig,
        gather=gather_autoscaling,
        values=(
            Value("HPAS", "name, target, min, max, current, desired, metrics per HPA", structured=True),
            Value("WORKLOADS_WITHOUT_HPA", "configured workloads no HPA targets"),
            Value("SCALING_INACTIVE", "HPAs whose ScalingActive or AbleToScale is not True, with the reason"),
            Value(
                "METRIC_ERRORS",
                "HPAs failing to get metrics: FailedGet… reasons, and single metrics without a "
                "current value while others work",
            ),
            Value("AT_MAX_REPLICAS", "HPAs running at their maximum replica count"),
        ),
        default_conditions=(
            "len([HPAS]) > 0",
            "len([WORKLOADS_WITHOUT_HPA]) == 0",
            "len([SCALING_INACTIVE]) == 0",
            "len([METRIC_ERRORS]) == 0",
        ),
        reading=(
            (
                "The HPA controller keeps ScalingActive True while at least one metric can be read; a "
                "metric it cannot read shows only as an empty entry at its index in "
                "`status.currentMetrics`. Each entry is compared with `spec.metrics`, and a missing one "
                "is a METRIC_ERRORS finding."
            ),
            (
                "Without `spec.metrics` the API server defaults the CPU metric at 80% utilisation; that "
                "is the metric reported."
            ),
        ),
        example={
            "type": "kube_autoscaling",
            "kubeconfig": "~/.kube/config",
            "namespace": "valeo",
            "workloads": ["deployment/neuroerp-api", "deployment/neuroerp-web"],
        },
    )
)


# --- kube_storage ---------------------------------------------------------------------


class KubeStorageConfig(KubeTarget):
    type: Literal["kube_storage"] = "kube_storage"
    #: PVC names; default every PVC of the namespace.
    pvcs: list[str] = Field(default_factory=list)


def is_default_class(storage_class: Obj) -> bool:
    marks = annotations_of(storage_class)
    return any(marks.get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS)


async def gather_storage(config: KubeStorageConfig, context: ProbeContext) -> Observation:
    async with kube_connect(config, context) as kube:
        classes, claims = await asyncio.gather(kube.objects(STORAGECLASSES), kube.objects(PVCS))
        source = kube.source()
    by_name = {name(c): c for c in claims}
    missing = [n for n in config.pvcs if n not in by_name]
    if missing:
        raise PermanentProbeError(f"{source}: no PersistentVolumeClaim {', '.join(missing)}")
    chosen = [by_name[n] for n in config.pvcs] if config.pvcs else sorted(claims, key=name)
    defaults = sorted(
        (c for c in classes if is_default_class(c)),
        key=lambda c: str(field(c, "metadata", "creationTimestamp") or ""),
        reverse=True,
    )
    class_names = {name(c) for c in classes}
    binding_modes = {name(c): field(c, "volumeBindingMode") or "Immediate" for c in classes}
    unbound, waiting, summary = [], [], []
    for claim in chosen:
        phase = field(claim, "status", "phase") or "Pending"
        wanted = field(claim, "spec", "storageClassName")
        summary.append(
            {
                "name": name(claim),
                "phase": phase,
                "storage_class": wanted,
                "capacity": field(claim, "status", "capacity", "storage"),
            }
        )
        if phase == "Bound":
            continue
        # No class written: the default StorageClass is assigned to the claim.
        effective = wanted if wanted is not None else (name(defaults[0]) if defaults else None)
        hint = ""
        if wanted and wanted not in class_names:
            hint = f" (StorageClass {wanted} does not exist)"
        elif effective is None:
            hint = " (no storage class and no default StorageClass)"
        elif phase == "Pending" and binding_modes.get(effective) == "WaitForFirstConsumer":
            node = annotations_of(claim).get(SELECTED_NODE_ANNOTATION)
            if not node:
                waiting.append(f"{name(claim)} (StorageClass {effective})")
                continue
            hint = f" (node {node} selected for its first consumer, but no volume was provisioned)"
        unbound.append(f"{name(claim)}: {phase}{hint}")
    values: dict[str, Any] = {
        "DEFAULT_STORAGE_CLASS": name(defaults[0]) if defaults else None,
        "DEFAULT_STORAGE_CLASSES": [name(c) for c in defaults],
        "STORAGE_CLASSES": sorted(class_names),
        "PVCS": summary,
        "UNBOUND_PVCS": unbound,
        "WAITING_FOR_FIRST_CONSUMER": waiting,
    }
    parts = [
        f"default StorageClass {values['DEFAULT_STORAGE_CLASS']}" if defaults else "no default StorageClass",
        f"{len(chosen) - len(unbound) - len(waiting)} of {len(chosen)} PVCs bound",
    ]
    if len(defaults) > 1:
        parts.append(f"{len(defaults)} classes marked default; the newest wins")
    if waiting:
        parts.append(f"waiting for a first consumer: {'; '.join(waiting)}")
    if unbound:
        parts.append(f"unbound: {'; '.join(unbound)}")
    return Observation(values=values, evidence=Evidence(source, context.now()), message="; ".join(parts))


KUBE_STORAGE = register(
    ProbeType(
        name="kube_storage",
        summary="A default StorageClass exists and the namespace's PersistentVolumeClaims are Bound.",
        config_model=KubeStorageConfig,
        gather=gather_storage,
        values=(
            Value("DEFAULT_STORAGE_CLASS", "the default StorageClass (the newest, if several), or null"),
            Value("DEFAULT_STORAGE_CLASSES", "every StorageClass marked default, newest first"),
            Value("STORAGE_CLASSES", "all StorageClass names"),
            Value("PVCS", "name, phase, storage_class, capacity per PVC", structured=True),
            Value("UNBOUND_PVCS", "PVCs not Bound (and not waiting for a first consumer), with a hint"),
            Value(
                "WAITING_FOR_FIRST_CONSUMER",
                "Pending PVCs of a WaitForFirstConsumer class no pod has been scheduled for yet",
            ),
        ),
        default_conditions=("has([DEFAULT_STORAGE_CLASS]) == true", "len([UNBOUND_PVCS]) == 0"),
        reading=(
            (
                "A claim without `storageClassName` gets the default class (the newest, if several are "
                "marked)."
            ),
            (
                "A Pending claim of a `WaitForFirstConsumer` class no pod has been scheduled for (no "
                "`volume.kubernetes.io/selected-node`) is waiting, not unbound: the volume of a CronJob "
                "that has not run yet. Pending with a selected node means provisioning failed."
            ),
        ),
        example={"type": "kube_storage", "kubeconfig": "~/.kube/config", "namespace": "valeo"},
    )
)
