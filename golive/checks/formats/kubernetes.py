"""Pure helpers over Kubernetes objects as JSON dicts (no client, no I/O).

The API omits empty fields (``omitempty``), so every accessor here treats an absent or
null field as its zero value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from ..clients.kubernetes import Obj


def field(obj: Mapping[str, Any] | None, *path: str) -> Any:
    """``field(pod, "status", "phase")``; None when any step is absent or null."""
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def mapping(obj: Mapping[str, Any] | None, *path: str) -> Obj:
    value = field(obj, *path)
    return value if isinstance(value, dict) else {}


def items(obj: Mapping[str, Any] | None, *path: str) -> list[Obj]:
    value = field(obj, *path)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def number(obj: Mapping[str, Any] | None, *path: str, default: int = 0) -> int:
    value = field(obj, *path)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def name(obj: Mapping[str, Any]) -> str:
    return str(field(obj, "metadata", "name") or "")


def labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in mapping(obj, "metadata", "labels").items()}


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in mapping(obj, "metadata", "annotations").items()}


def condition(obj: Mapping[str, Any], kind: str) -> Obj | None:
    """The ``status.conditions`` entry of that type, if any."""
    return next((c for c in items(obj, "status", "conditions") if c.get("type") == kind), None)


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 as the API writes it (``2025-06-01T10:00:00Z``, MicroTime with µs)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def hours_between(earlier: datetime, later: datetime) -> float:
    return round((later - earlier).total_seconds() / 3600, 2)


def selector_matches(selector: Mapping[str, Any] | None, object_labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: matchLabels AND every matchExpression.

    An empty selector ``{}`` matches everything; a missing (null) one matches nothing,
    as in ``metav1.LabelSelectorAsSelector``.
    """
    if selector is None:
        return False
    for key, value in mapping(selector, "matchLabels").items():
        if object_labels.get(key) != str(value):
            return False
    for expression in items(selector, "matchExpressions"):
        key = str(expression.get("key", ""))
        operator = expression.get("operator")
        values = [str(v) for v in expression.get("values") or []]
        present = key in object_labels
        if operator == "In" and not (present and object_labels[key] in values):
            return False
        if operator == "NotIn" and present and object_labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def is_empty_selector(selector: Any) -> bool:
    """``{}`` (or only empty lists in it): selects every pod of the namespace."""
    return (
        isinstance(selector, Mapping)
        and not selector.get("matchLabels")
        and not selector.get("matchExpressions")
    )


def owner(pod: Mapping[str, Any]) -> str:
    """Who a pod belongs to, for reports that should name a workload once, not each replica.

    A ReplicaSet named ``<deployment>-<pod-template-hash>`` is reported as that Deployment
    (the hash is the pod's own ``pod-template-hash`` label, so this is not guessing).
    """
    for reference in items(pod, "metadata", "ownerReferences"):
        if not reference.get("controller"):
            continue
        kind, owner_name = str(reference.get("kind", "")), str(reference.get("name", ""))
        template_hash = labels(pod).get("pod-template-hash")
        if kind == "ReplicaSet" and template_hash and owner_name.endswith(f"-{template_hash}"):
            return f"deployment/{owner_name[: -len(template_hash) - 1]}"
        return f"{kind.lower()}/{owner_name}"
    return f"pod/{name(pod)}"


def containers(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, Obj]]:
    """(label, container) for init containers (``init:<name>``) and containers."""
    for container in items(pod_spec, "initContainers"):
        yield f"init:{container.get('name', '')}", container
    for container in items(pod_spec, "containers"):
        yield str(container.get("name", "")), container


def is_terminating(obj: Mapping[str, Any]) -> bool:
    return field(obj, "metadata", "deletionTimestamp") is not None
