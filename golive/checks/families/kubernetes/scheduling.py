"""Which pending pods an item answers for, and whether the cluster autoscaler is on them.

Pure helpers over pod and event JSON (no client, no I/O):

- A pod is in scope when its namespace is among the item's (none given: all) and, when
  the item looks at selected nodes only, it could go to one of them: its ``nodeSelector``
  and its required node affinity (``nodeSelectorTerms`` are ORed, each term's
  ``matchExpressions`` ANDed; In, NotIn, Exists, DoesNotExist, Gt, Lt) match the node's
  labels, as the scheduler's NodeAffinity filter does.
- The cluster autoscaler reports on a pod with events: ``TriggeredScaleUp`` (it is adding
  a node), ``NotTriggerScaleUp`` (no node group would fit it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ...clients.kubernetes import Obj
from ...formats.kubernetes import condition, field, items, mapping, name, parse_time

SCALE_UP = "TriggeredScaleUp"
NO_SCALE_UP = "NotTriggerScaleUp"


def _expression_matches(expression: Mapping[str, Any], node_labels: Mapping[str, str]) -> bool:
    key = str(expression.get("key", ""))
    operator = expression.get("operator")
    values = [str(v) for v in expression.get("values") or []]
    value = node_labels.get(key)
    if operator == "In":
        return value in values
    if operator == "NotIn":
        return value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and values:
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if operator == "Gt" else left < right
    return False


def fits_node(pod: Obj, node_labels: Mapping[str, str]) -> bool:
    """Whether the pod's nodeSelector and required node affinity allow this node."""
    for key, value in mapping(pod, "spec", "nodeSelector").items():
        if node_labels.get(str(key)) != str(value):
            return False
    required = field(
        pod, "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"
    )
    terms = items(required, "nodeSelectorTerms")
    if not terms:
        return True
    return any(
        all(_expression_matches(e, node_labels) for e in items(term, "matchExpressions"))
        and (items(term, "matchExpressions") or items(term, "matchFields"))
        for term in terms
    )


@dataclass(frozen=True)
class PendingPods:
    """The item's scope: namespaces (empty: all) and the labels of its nodes (None: all)."""

    namespaces: frozenset[str]
    node_labels: list[dict[str, str]] | None

    def covers(self, pod: Obj) -> bool:
        if self.namespaces and field(pod, "metadata", "namespace") not in self.namespaces:
            return False
        if self.node_labels is None:
            return True
        return any(fits_node(pod, node) for node in self.node_labels)

    def unschedulable(self, pods: list[Obj]) -> list[Obj]:
        """Pods in scope, not bound to a node, that the scheduler marked Unschedulable."""
        return [
            pod
            for pod in pods
            if not field(pod, "spec", "nodeName")
            and (condition(pod, "PodScheduled") or {}).get("reason") == "Unschedulable"
            and self.covers(pod)
        ]


def _latest_events(events: list[Obj]) -> dict[tuple[str, str], Obj]:
    """(namespace, pod) → the newest autoscaler event about it."""
    newest: dict[tuple[str, str], tuple[str, Obj]] = {}
    for event in events:
        if event.get("reason") not in (SCALE_UP, NO_SCALE_UP):
            continue
        key = (str(field(event, "involvedObject", "namespace")), str(field(event, "involvedObject", "name")))
        when = str(event.get("lastTimestamp") or event.get("eventTime") or "")
        if key not in newest or when > newest[key][0]:
            newest[key] = (when, event)
    return {key: event for key, (_, event) in newest.items()}


def pending_pods(
    pods: list[Obj], events: list[Obj], autoscaler: bool, now: datetime, wait_minutes: int
) -> tuple[list[str], list[str]]:
    """(cannot be placed, waiting for the autoscaler), as ``namespace/pod: why``."""
    latest = _latest_events(events)
    stuck, waiting = [], []
    for pod in sorted(pods, key=lambda p: (str(field(p, "metadata", "namespace")), name(p))):
        namespace = str(field(pod, "metadata", "namespace"))
        label = f"{namespace}/{name(pod)}"
        scheduled = condition(pod, "PodScheduled") or {}
        reason = str(scheduled.get("message", ""))[:160]
        event = latest.get((namespace, name(pod)))
        if event is not None and event.get("reason") == SCALE_UP:
            waiting.append(f"{label}: {event.get('message', 'scale-up triggered')}")
            continue
        if event is not None:
            stuck.append(f"{label}: {reason} (cluster autoscaler: {event.get('message', '')})")
            continue
        since = parse_time(scheduled.get("lastTransitionTime"))
        if autoscaler and since is not None and now - since < timedelta(minutes=wait_minutes):
            minutes = int((now - since).total_seconds() // 60)
            waiting.append(
                f"{label}: unschedulable for {minutes} min, the cluster autoscaler may still add a node"
            )
            continue
        stuck.append(f"{label}: {reason}")
    return stuck, waiting
