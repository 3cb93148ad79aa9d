"""Cluster-wide default denies, where a cluster keeps them instead of per-namespace
NetworkPolicies. Pure: policy, namespace and pod JSON in, findings out.

Each kind answers, for one namespace and one direction (Ingress/Egress): does it deny
by default (every pod of the namespace isolated, everything not allowed dropped), and is
that deny *enforced*, i.e. evaluated before NetworkPolicies, so no NetworkPolicy can open
it again.

- AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1): subject ``namespaces`` (a label
  selector on the namespace) or ``pods`` with an empty ``podSelector``; a rule with
  ``action: Deny`` whose peers are everything (``namespaces: {}``, ``pods`` with empty
  selectors, or ``networks`` 0.0.0.0/0 / ::/0). Admin policies run before NetworkPolicies:
  enforced, unless an Allow or Pass rule comes before the Deny.
- BaselineAdminNetworkPolicy: the same shape, evaluated after NetworkPolicies: a deny,
  never enforced.
- Calico GlobalNetworkPolicy (crd.projectcalico.org/v1): its ``namespaceSelector`` (on
  the namespace's labels) and ``selector`` (``all()``,
  ``has(k)``, ``!has(k)``, ``k == 'v'``, ``k != 'v'``, ``k in {…}``, ``k not in {…}``,
  joined by ``&&``; pod labels plus ``projectcalico.org/namespace``) matches every pod of
  the namespace, its ``types`` include the direction, and its rules for it are none, or
  the first is an unconditional Deny. Selectors using ``||`` or parentheses are not read
  (the policy is not counted). Counted as a deny, not enforced: its order against the
  namespace's NetworkPolicies is not weighed.
- Cilium CiliumClusterwideNetworkPolicy (cilium.io/v2): its ``endpointSelector`` matches
  the namespace's pods (their labels plus ``k8s:io.kubernetes.pod.namespace``) and it has
  rules for the direction, none of which allows ``all``/``world`` entities, and
  ``enableDefaultDeny`` does not turn the direction off. Deny rules (``ingressDeny``)
  from ``all`` entities are enforced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...clients.kubernetes import Obj
from ...formats.kubernetes import field, is_empty_selector, items, labels, mapping, name, selector_matches

EVERYWHERE = frozenset({"0.0.0.0/0", "::/0"})
CALICO_NAMESPACE = "projectcalico.org/namespace"
#: The label Calico adds to a namespace's own labels for ``namespaceSelector``.
CALICO_NAME = "projectcalico.org/name"
CILIUM_NAMESPACE = "io.kubernetes.pod.namespace"
_CALICO_TERM = re.compile(
    r"""^(?:
        (?P<all>all\(\))
      | (?P<neg>!)?has\((?P<has>[^)]+)\)
      | (?P<key>[\w./-]+)\s*(?P<op>==|!=)\s*['"](?P<value>[^'"]*)['"]
      | (?P<setkey>[\w./-]+)\s+(?P<not>not\s+)?in\s*\{(?P<values>[^}]*)\}
    )$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Deny:
    """A cluster-wide deny for one namespace and direction: ``Kind name``, and whether it
    comes before NetworkPolicies (which then cannot open it)."""

    policy: str
    enforced: bool


@dataclass(frozen=True)
class ClusterPolicies:
    admin: list[Obj]
    baseline: list[Obj]
    calico: list[Obj]
    cilium: list[Obj]

    def denies(self, namespace: Obj, pods: list[Obj], direction: str) -> list[Deny]:
        found: list[Deny] = []
        for policy in sorted(self.admin, key=lambda p: field(p, "spec", "priority") or 0):
            verdict = _admin_deny(policy, namespace, direction)
            if verdict is not None:
                found.append(Deny(f"AdminNetworkPolicy {name(policy)}", verdict))
        for policy in self.baseline:
            if _admin_deny(policy, namespace, direction) is not None:
                found.append(Deny(f"BaselineAdminNetworkPolicy {name(policy)}", False))
        for policy in self.calico:
            if _calico_denies(policy, namespace, pods, direction):
                found.append(Deny(f"GlobalNetworkPolicy {name(policy)}", False))
        for policy in self.cilium:
            verdict = _cilium_deny(policy, namespace, pods, direction)
            if verdict is not None:
                found.append(Deny(f"CiliumClusterwideNetworkPolicy {name(policy)}", verdict))
        return found


# --- AdminNetworkPolicy / BaselineAdminNetworkPolicy --------------------------------------


def _admin_subject_covers(policy: Obj, namespace: Obj) -> bool:
    subject = mapping(policy, "spec", "subject")
    namespace_labels = labels(namespace)
    if "namespaces" in subject:
        return selector_matches(mapping(subject, "namespaces"), namespace_labels)
    pods = mapping(subject, "pods")
    return (
        bool(pods)
        and is_empty_selector(pods.get("podSelector"))
        and selector_matches(mapping(pods, "namespaceSelector"), namespace_labels)
    )


def _admin_peer_is_everything(peer: Mapping[str, Any]) -> bool:
    if "namespaces" in peer:
        return is_empty_selector(peer.get("namespaces"))
    if "pods" in peer:
        pods = mapping(peer, "pods")
        return is_empty_selector(pods.get("namespaceSelector")) and is_empty_selector(pods.get("podSelector"))
    networks = peer.get("networks")
    return isinstance(networks, list) and bool(EVERYWHERE & {str(n) for n in networks})


def _admin_deny(policy: Obj, namespace: Obj, direction: str) -> bool | None:
    """None: no default deny here; else whether no Allow/Pass rule comes before it."""
    if not _admin_subject_covers(policy, namespace):
        return None
    peers_key = "from" if direction == "Ingress" else "to"
    opened_before = False
    for rule in items(policy, "spec", direction.lower()):
        action = rule.get("action")
        peers = items(rule, peers_key)
        if action == "Deny" and not rule.get("ports") and any(_admin_peer_is_everything(p) for p in peers):
            return not opened_before
        if action in ("Allow", "Pass"):
            opened_before = True
    return None


# --- Calico GlobalNetworkPolicy --------------------------------------------------------


def calico_selector_matches(selector: str, pod_labels: Mapping[str, str]) -> bool | None:
    """Calico's selector over one endpoint's labels; None when it is not one read here."""
    text = selector.strip()
    if not text:
        return True
    if "||" in text or "(" in text.replace("all()", "").replace("has(", ""):
        return None
    for term in (t.strip() for t in text.split("&&")):
        match = _CALICO_TERM.match(term)
        if match is None:
            return None
        if match["all"]:
            continue
        if match["has"] is not None:
            present = match["has"].strip() in pod_labels
            if present == bool(match["neg"]):
                return False
        elif match["key"] is not None:
            equal = pod_labels.get(match["key"]) == match["value"]
            if equal != (match["op"] == "=="):
                return False
        else:
            values = {v.strip().strip("'\"") for v in match["values"].split(",") if v.strip()}
            inside = pod_labels.get(match["setkey"]) in values
            if inside == bool(match["not"]):
                return False
    return True


def _calico_types(spec: Mapping[str, Any]) -> set[str]:
    declared = spec.get("types")
    if declared:
        return {str(t) for t in declared}
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def _calico_denies(policy: Obj, namespace: Obj, pods: list[Obj], direction: str) -> bool:
    spec = mapping(policy, "spec")
    if direction not in _calico_types(spec):
        return False
    namespace_selector = spec.get("namespaceSelector")
    if (
        isinstance(namespace_selector, str)
        and namespace_selector.strip()
        and calico_selector_matches(namespace_selector, {**labels(namespace), CALICO_NAME: name(namespace)})
        is not True
    ):
        return False
    selector = str(spec.get("selector") or "")
    subjects = [{**labels(p), CALICO_NAMESPACE: name(namespace)} for p in pods] or [
        {CALICO_NAMESPACE: name(namespace)}
    ]
    if not all(calico_selector_matches(selector, s) is True for s in subjects):
        return False
    rules = items(spec, direction.lower())
    if not rules:
        return True
    first = rules[0]
    return first.get("action") == "Deny" and not any(
        k in first for k in ("source", "destination", "protocol")
    )


# --- Cilium CiliumClusterwideNetworkPolicy ---------------------------------------------


def _cilium_allows_everything(rule: Mapping[str, Any], direction: str) -> bool:
    entities = rule.get("fromEntities" if direction == "Ingress" else "toEntities") or []
    return bool({"all", "world"} & {str(e) for e in entities})


def _cilium_labels(pod_labels: Mapping[str, str], namespace: str) -> dict[str, str]:
    """An endpoint's labels as Cilium selectors see them: bare, and with the ``k8s:`` source."""
    plain = {**pod_labels, CILIUM_NAMESPACE: namespace}
    return {**plain, **{f"k8s:{k}": v for k, v in plain.items()}}


def _cilium_deny(policy: Obj, namespace: Obj, pods: list[Obj], direction: str) -> bool | None:
    spec = mapping(policy, "spec")
    subjects = [_cilium_labels(labels(p), name(namespace)) for p in pods] or [
        _cilium_labels({}, name(namespace))
    ]
    selector = spec.get("endpointSelector")
    if not isinstance(selector, Mapping) or not all(selector_matches(selector, s) for s in subjects):
        return None
    key = direction.lower()
    if any(_cilium_allows_everything(r, direction) for r in items(spec, f"{key}Deny")):
        return True
    if field(spec, "enableDefaultDeny", key) is False or f"{key}" not in spec:
        return None
    if any(_cilium_allows_everything(r, direction) for r in items(spec, key)):
        return None
    return False
