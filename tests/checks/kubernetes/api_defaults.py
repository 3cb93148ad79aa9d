"""The defaults kube-apiserver fills in when an object is created, for the fake API server.

A real cluster never returns these fields empty, so fixtures must not be able to either
(kubernetes ``pkg/apis/*/v1/defaults.go``, ``autoscaling/v2/defaults.go``):

- NetworkPolicy: ``policyTypes`` is Ingress, plus Egress when egress rules exist.
- Pod: a container (init containers too) with a limit but no request for a resource
  gets the limit as its request.
- Deployment: ``replicas: 1``, strategy RollingUpdate with ``maxUnavailable``/``maxSurge``
  25%, ``revisionHistoryLimit: 10``, ``progressDeadlineSeconds: 600``.
- StatefulSet: ``replicas: 1``, ``podManagementPolicy: OrderedReady``, updateStrategy
  RollingUpdate with ``partition: 0``, ``revisionHistoryLimit: 10``.
- HorizontalPodAutoscaler (autoscaling/v2): ``minReplicas: 1``; without metrics, the CPU
  metric at 80% average utilisation.
- Namespace: the label ``kubernetes.io/metadata.name`` with its name.

Fields already set are kept as they are.
"""

from __future__ import annotations

from typing import Any

#: autoscaling.DefaultCPUUtilization
DEFAULT_CPU_UTILIZATION = 80


def apply_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with the server's defaults filled in (changed in place, and returned)."""
    if obj.get("kind") == "Namespace":
        metadata = obj.setdefault("metadata", {})
        metadata.setdefault("labels", {})["kubernetes.io/metadata.name"] = metadata.get("name")
        return obj
    defaulting = _BY_KIND.get(str(obj.get("kind")))
    if defaulting is not None:
        defaulting(obj.setdefault("spec", {}))
    return obj


def _network_policy(spec: dict[str, Any]) -> None:
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _pod(spec: dict[str, Any]) -> None:
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            resources = container.get("resources") or {}
            limits = resources.get("limits") or {}
            if not limits:
                continue
            requests = resources.setdefault("requests", {})
            for resource, limit in limits.items():
                requests.setdefault(resource, limit)
            container["resources"] = resources


def _deployment(spec: dict[str, Any]) -> None:
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)


def _statefulset(spec: dict[str, Any]) -> None:
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)


def _hpa(spec: dict[str, Any]) -> None:
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        target = {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]


_BY_KIND = {
    "NetworkPolicy": _network_policy,
    "Pod": _pod,
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "HorizontalPodAutoscaler": _hpa,
}
