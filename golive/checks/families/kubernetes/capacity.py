"""``kube_capacity``: node headroom, as requested resources against allocatable ones.

The way ``kubectl describe node`` and the scheduler count (reference/probe-protocols.md,
section 6; kubernetes ``component-helpers/resource`` PodRequests):

- Node side: ``status.allocatable`` (not ``capacity``). Headroom counts only nodes new pods
  can land on: Ready, not cordoned, and (unless ``include_tainted``) without a NoSchedule
  or NoExecute taint. OVERCOMMITTED looks at every node.
- Pod side: pods bound to the node (``spec.nodeName``) that have not finished. A pod's
  request is max(Σ containers, the largest init container) + ``spec.overhead``; sidecars
  (init containers with ``restartPolicy: Always``) run alongside, so they add to the sum
  and to every later init container. Pod-level ``spec.resources.requests`` replace the
  container sum where set. A container request left unset defaults to its limit, as the
  API server defaults it. During an in-place resize a container counts with the larger
  of its spec requests and what its status says is allocated (``allocatedResources``,
  ``resources.requests``); a resize found infeasible counts the status only.
- Pending pods are this item's when they are in its ``namespaces`` (default: all, or
  the ``namespace`` given) and could go to its nodes (their ``nodeSelector`` and required
  node affinity match a selected node). An Unschedulable pod waits for the cluster
  autoscaler when its newest autoscaler event is ``TriggeredScaleUp``, or when the
  autoscaler runs (``cluster_autoscaler``: present, or detected by its events about pods,
  which the API server keeps an hour) and the pod became unschedulable less than
  ``scale_up_wait_minutes`` ago without a ``NotTriggerScaleUp`` event; otherwise it
  cannot be placed.
- Quantities (``250m``, ``0.5``, ``1.5Gi``, ``1e3``) go through the client's own parser.

A request above allocatable cannot come from the scheduler, but it does happen: pods
bound with ``nodeName``, static pods, or allocatable shrinking under running pods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from ...clients.kubernetes import EVENTS, NODES, PODS, KubeTarget, Obj, quantity
from ...clients.kubernetes import connect as kube_connect
from ...formats.kubernetes import condition, field, items, labels, mapping, name
from ...probe import Evidence, Observation, ProbeContext, ProbeType, Value, register
from .scheduling import PendingPods, pending_pods

RESOURCES = ("cpu", "memory")
_GIB = Decimal(2**30)
_BLOCKING_TAINTS = frozenset({"NoSchedule", "NoExecute"})

Amounts = dict[str, Decimal]


class KubeCapacityConfig(KubeTarget):
    type: Literal["kube_capacity"] = "kube_capacity"
    #: Label selector of the nodes to look at (``node-role.kubernetes.io/worker``).
    node_selector: str | None = None
    #: Count NoSchedule/NoExecute-tainted nodes as headroom (pods that tolerate them).
    include_tainted: bool = False
    #: Namespaces whose pending pods count; default every namespace, or ``namespace`` if given.
    namespaces: list[str] = Field(default_factory=list)
    #: Whether a cluster autoscaler runs: detect (it has written events about pods), present, absent.
    cluster_autoscaler: Literal["detect", "present", "absent"] = "detect"
    #: How long an Unschedulable pod may wait for the cluster autoscaler without an event.
    scale_up_wait_minutes: int = Field(default=10, ge=0)


def _amounts(values: Mapping[str, Any], what: str) -> Amounts:
    return {r: quantity(values[r], f"{what} {r}") for r in RESOURCES if values.get(r) is not None}


def _add(total: Amounts, more: Amounts) -> Amounts:
    return {r: total.get(r, Decimal(0)) + more.get(r, Decimal(0)) for r in {*total, *more}}


def _max(one: Amounts, other: Amounts) -> Amounts:
    return {r: max(one.get(r, Decimal(0)), other.get(r, Decimal(0))) for r in {*one, *other}}


def container_requests(container: Obj, what: str) -> Amounts:
    requests = mapping(container, "resources", "requests")
    limits = mapping(container, "resources", "limits")
    return _amounts({r: requests.get(r, limits.get(r)) for r in RESOURCES}, what)


def _resize_infeasible(pod: Obj) -> bool:
    pending = condition(pod, "PodResizePending") or {}
    return field(pod, "status", "resize") == "Infeasible" or (
        pending.get("status") == "True" and pending.get("reason") == "Infeasible"
    )


def _scheduled_requests(pod: Obj, container: Obj, statuses: Mapping[str, Obj], what: str) -> Amounts:
    """What the scheduler counts for a container: during a resize, the larger of the spec
    and the allocated requests (component-helpers resource.PodRequests, UseStatusResources)."""
    status = statuses.get(str(container.get("name")))
    spec_requests = container_requests(container, what)
    if status is None or not isinstance(status.get("resources"), dict):
        return spec_requests
    from_status = _max(
        _amounts(mapping(status, "resources", "requests"), what),
        _amounts(mapping(status, "allocatedResources"), what),
    )
    return from_status if _resize_infeasible(pod) else _max(spec_requests, from_status)


def pod_requests(pod: Obj) -> Amounts:
    what = f"pod {field(pod, 'metadata', 'namespace')}/{name(pod)}"
    spec = mapping(pod, "spec")
    statuses = {
        str(s.get("name")): s
        for key in ("containerStatuses", "initContainerStatuses")
        for s in items(pod, "status", key)
    }
    total: Amounts = {}
    for container in items(spec, "containers"):
        total = _add(total, _scheduled_requests(pod, container, statuses, what))
    sidecars: Amounts = {}
    largest_init: Amounts = {}
    for container in items(spec, "initContainers"):
        requests = _scheduled_requests(pod, container, statuses, what)
        if container.get("restartPolicy") == "Always":
            total = _add(total, requests)
            sidecars = _add(sidecars, requests)
            largest_init = _max(largest_init, sidecars)
        else:
            largest_init = _max(largest_init, _add(requests, sidecars))
    effective = _max(total, largest_init)
    effective.update(_amounts(mapping(spec, "resources", "requests"), what))
    return _add(effective, _amounts(mapping(spec, "overhead"), what))


def _exclusion(node: Obj, include_tainted: bool) -> str | None:
    ready = condition(node, "Ready")
    if ready is None or ready.get("status") != "True":
        return "NotReady"
    if field(node, "spec", "unschedulable"):
        return "cordoned"
    if not include_tainted:
        for taint in items(node, "spec", "taints"):
            if taint.get("effect") in _BLOCKING_TAINTS:
                return f"tainted {taint.get('key')}:{taint.get('effect')}"
    return None


def _percent(used: Decimal, available: Decimal) -> float | None:
    return round(float(used / available * 100), 1) if available > 0 else None


def _gib(amount: Decimal) -> float:
    return round(float(amount / _GIB), 2)


def _cores(amount: Decimal) -> float:
    return round(float(amount), 3)


def _node_entry(node: Obj, used: Amounts, pods: int, excluded: str | None) -> tuple[Obj, Amounts, list[str]]:
    allocatable = _amounts(mapping(node, "status", "allocatable"), f"node {name(node)} allocatable")
    pod_slots = int(quantity(field(node, "status", "allocatable", "pods") or 0, f"node {name(node)} pods"))
    over = []
    for r in RESOURCES:
        requested, available = used.get(r, Decimal(0)), allocatable.get(r, Decimal(0))
        if requested > available:
            shown = (
                f"{_cores(requested)} > {_cores(available)} cores"
                if r == "cpu"
                else f"{_gib(requested)} > {_gib(available)} GiB"
            )
            over.append(f"{r} requests {shown} allocatable")
    if pods > pod_slots:
        over.append(f"{pods} pods > {pod_slots} allowed")
    entry = {
        "name": name(node),
        "excluded": excluded,
        "cpu_allocatable": _cores(allocatable.get("cpu", Decimal(0))),
        "cpu_requested": _cores(used.get("cpu", Decimal(0))),
        "cpu_percent": _percent(used.get("cpu", Decimal(0)), allocatable.get("cpu", Decimal(0))),
        "memory_allocatable_gib": _gib(allocatable.get("memory", Decimal(0))),
        "memory_requested_gib": _gib(used.get("memory", Decimal(0))),
        "memory_percent": _percent(used.get("memory", Decimal(0)), allocatable.get("memory", Decimal(0))),
        "pods": pods,
        "pods_allocatable": pod_slots,
    }
    return entry, allocatable, over


#: The cluster autoscaler's events about pods (``source`` is the event's source.component).
AUTOSCALER_EVENTS = "involvedObject.kind=Pod,source=cluster-autoscaler"


async def gather(config: KubeCapacityConfig, context: ProbeContext) -> Observation:
    async with kube_connect(config, context) as kube:
        nodes, pods = await asyncio.gather(
            kube.objects(NODES, label_selector=config.node_selector),
            kube.objects(
                PODS, all_namespaces=True, field_selector="status.phase!=Succeeded,status.phase!=Failed"
            ),
        )
        source = f"{kube.where} nodes" + (f" labelled {config.node_selector}" if config.node_selector else "")
        namespaces = config.namespaces or ([config.namespace] if config.namespace else [])
        scope = PendingPods(
            namespaces=frozenset(namespaces),
            node_labels=[labels(n) for n in nodes] if config.node_selector else None,
        )
        waiting_pods = scope.unschedulable(pods)
        events = await kube.objects(EVENTS, all_namespaces=True, field_selector=AUTOSCALER_EVENTS)
    # Its events (kept an hour) show the autoscaler at work; else the item says whether it runs.
    autoscaler = config.cluster_autoscaler == "present" or (
        config.cluster_autoscaler == "detect" and bool(events)
    )
    used: dict[str, Amounts] = {}
    pod_count: dict[str, int] = {}
    for pod in pods:
        node_name = field(pod, "spec", "nodeName")
        if node_name:
            used[node_name] = _add(used.get(node_name, {}), pod_requests(pod))
            pod_count[node_name] = pod_count.get(node_name, 0) + 1
    unschedulable, waiting = pending_pods(
        waiting_pods, events, autoscaler, context.now(), config.scale_up_wait_minutes
    )
    entries, overcommitted, excluded_nodes = [], [], []
    totals: dict[str, Amounts] = {"allocatable": {}, "used": {}, "free": {}}
    for node in sorted(nodes, key=name):
        excluded = _exclusion(node, config.include_tainted)
        node_used = used.get(name(node), {})
        entry, allocatable, over = _node_entry(node, node_used, pod_count.get(name(node), 0), excluded)
        entries.append(entry)
        if over:
            overcommitted.append(f"{name(node)}: {', '.join(over)}")
        if excluded:
            excluded_nodes.append(f"{name(node)}: {excluded}")
            continue
        totals["allocatable"] = _add(totals["allocatable"], allocatable)
        totals["used"] = _add(totals["used"], node_used)
        free = {
            r: max(Decimal(0), allocatable.get(r, Decimal(0)) - node_used.get(r, Decimal(0)))
            for r in RESOURCES
        }
        totals["free"] = _add(totals["free"], free)
    counted = [e for e in entries if not e["excluded"]]
    values: dict[str, Any] = {
        "NODES": entries,
        "SCHEDULABLE_NODES": len(counted),
        "CPU_REQUESTED_PERCENT": _percent(
            totals["used"].get("cpu", Decimal(0)), totals["allocatable"].get("cpu", Decimal(0))
        ),
        "MEMORY_REQUESTED_PERCENT": _percent(
            totals["used"].get("memory", Decimal(0)), totals["allocatable"].get("memory", Decimal(0))
        ),
        "CPU_HEADROOM_CORES": _cores(totals["free"].get("cpu", Decimal(0))),
        "MEMORY_HEADROOM_GIB": _gib(totals["free"].get("memory", Decimal(0))),
        "MAX_NODE_CPU_PERCENT": max(
            (e["cpu_percent"] for e in counted if e["cpu_percent"] is not None), default=None
        ),
        "MAX_NODE_MEMORY_PERCENT": max(
            (e["memory_percent"] for e in counted if e["memory_percent"] is not None), default=None
        ),
        "OVERCOMMITTED": overcommitted,
        "NOT_READY_NODES": [e["name"] for e in entries if e["excluded"] == "NotReady"],
        "EXCLUDED_NODES": excluded_nodes,
        "UNSCHEDULABLE_PODS": unschedulable,
        "WAITING_FOR_SCALE_UP": waiting,
    }
    return Observation(values=values, evidence=Evidence(source, context.now()), message=_message(values))


def _message(values: dict[str, Any]) -> str:
    cpu = f"CPU {values['CPU_REQUESTED_PERCENT']}% requested ({values['CPU_HEADROOM_CORES']} cores free)"
    memory = (
        f"memory {values['MEMORY_REQUESTED_PERCENT']}% requested ({values['MEMORY_HEADROOM_GIB']} GiB free)"
    )
    parts = [f"{values['SCHEDULABLE_NODES']} schedulable node(s): {cpu}, {memory}"]
    for key, label in (
        ("OVERCOMMITTED", "overcommitted"),
        ("EXCLUDED_NODES", "not counted"),
        ("UNSCHEDULABLE_PODS", "unschedulable pods"),
        ("WAITING_FOR_SCALE_UP", "waiting for the cluster autoscaler"),
    ):
        if values[key]:
            parts.append(f"{label}: {'; '.join(values[key][:3])}")
    return "; ".join(parts)


KUBE_CAPACITY = register(
    ProbeType(
        name="kube_capacity",
        summary="Node headroom: requested CPU/memory against allocatable, overcommitted and "
        "not-ready nodes, unschedulable pods.",
        config_model=KubeCapacityConfig,
        gather=gather,
        values=(
            Value(
                "NODES", "per node: allocatable, requested, percent for cpu and memory; pods", structured=True
            ),
            Value("SCHEDULABLE_NODES", "nodes counted for headroom (Ready, not cordoned, untainted)"),
            Value("CPU_REQUESTED_PERCENT", "CPU requested of allocatable, over schedulable nodes", "%"),
            Value("MEMORY_REQUESTED_PERCENT", "memory requested of allocatable, over schedulable nodes", "%"),
            Value("CPU_HEADROOM_CORES", "CPU not yet requested on schedulable nodes", "cores"),
            Value("MEMORY_HEADROOM_GIB", "memory not yet requested on schedulable nodes", "GiB"),
            Value("MAX_NODE_CPU_PERCENT", "CPU requested on the fullest schedulable node", "%"),
            Value("MAX_NODE_MEMORY_PERCENT", "memory requested on the fullest schedulable node", "%"),
            Value("OVERCOMMITTED", "nodes whose pods request more than allocatable, and what"),
            Value("NOT_READY_NODES", "nodes whose Ready condition is not True"),
            Value("EXCLUDED_NODES", "nodes not counted for headroom, with the reason"),
            Value(
                "UNSCHEDULABLE_PODS",
                "pending pods of the item's namespaces and nodes that cannot be placed (no node, "
                "and the cluster autoscaler will not add one)",
            ),
            Value("WAITING_FOR_SCALE_UP", "pending pods the cluster autoscaler is adding a node for"),
        ),
        default_conditions=(
            "len([OVERCOMMITTED]) == 0",
            "len([NOT_READY_NODES]) == 0",
            "len([UNSCHEDULABLE_PODS]) == 0",
            "[CPU_REQUESTED_PERCENT] <= 85",
            "[MEMORY_REQUESTED_PERCENT] <= 85",
        ),
        reading=(
            (
                "Headroom is requests against allocatable on Ready, uncordoned, untainted nodes, counted "
                "as the scheduler counts: max(containers, largest init container) plus sidecars and "
                "overhead; a request left unset is its limit; during an in-place resize the larger of "
                "spec and allocated requests."
            ),
            (
                "Pending pods count only in the item's namespaces and if they could go to its nodes "
                "(nodeSelector, required node affinity). A pod the cluster autoscaler is adding a node "
                "for (a TriggeredScaleUp event, or unschedulable for less than `scale_up_wait_minutes` "
                "with the autoscaler running) is WAITING_FOR_SCALE_UP, not unschedulable."
            ),
        ),
        example={"type": "kube_capacity", "kubeconfig": "~/.kube/config", "node_selector": "pool=apps"},
    )
)
