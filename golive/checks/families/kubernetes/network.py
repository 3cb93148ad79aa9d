"""Traffic into the release: ``kube_ingress``, ``kube_services``, ``kube_network_policies``.

Facts from reference/probe-protocols.md, section 6:

- Ingress: there is no admission status. Controllers fill ``status.loadBalancer`` only
  when they publish an address (ingress-nginx without ``--publish-service``, or with
  ``--update-status=false``, serves with it empty), so an empty one is reported, not
  failed: the HTTP check through each host decides whether it serves, and without that
  check the item warns. A host has TLS
  when a ``spec.tls[].hosts`` entry of the same Ingress covers it (``*.example.com``
  covers one label). Optionally each host is fetched over HTTP(S) with the ``http``
  probe itself; wildcard hosts cannot be fetched and are skipped.
- EndpointSlice: a Service's slices carry ``kubernetes.io/service-name``; there may be
  several, and ``endpoints`` may be null. An endpoint counts when it serves and is not
  terminating: ``conditions.serving`` where the controller wrote it (``ready`` is forced
  true for ``publishNotReadyAddresses`` Services), else ``ready``; null means true, and
  ``terminating: true`` never counts.
  ExternalName services have no endpoints by design and are not checked.
- NetworkPolicy: policies add up. A pod is isolated in a direction once any policy of
  that type selects it; then only what some policy allows gets through. A namespace
  denies by default when a ``podSelector: {}`` policy isolates every pod (or a
  cluster-wide deny does, kube_cluster_policies.py) *and* no policy allows everything to
  its running pods: a rule without ports whose peers are absent, ``ipBlock`` 0.0.0.0/0 or
  ::/0 without ``except``, or ``namespaceSelector: {}`` (every pod of the cluster). So
  ``default-deny`` beside ``allow-all`` (``ingress: [{}]``) is no default deny, while a
  deny with narrow openings (a port, a namespace) is. An AdminNetworkPolicy deny comes
  before NetworkPolicies, which then cannot open it. Absent ``policyTypes`` mean Ingress,
  plus Egress when egress rules exist (the API server fills them in). That the CNI
  enforces policies is not visible in the API.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...clients.kubernetes import (
    ADMIN_NETWORK_POLICIES,
    BASELINE_ADMIN_NETWORK_POLICIES,
    CALICO_GLOBAL_NETWORK_POLICIES,
    CILIUM_CLUSTERWIDE_POLICIES,
    ENDPOINTSLICES,
    INGRESSES,
    NAMESPACES,
    NETWORKPOLICIES,
    PODS,
    SERVICES,
    KubeClient,
    KubeNotFound,
    KubeTarget,
    Obj,
)
from ...clients.kubernetes import connect as kube_connect
from ...errors import PermanentProbeError, ProbeError
from ...formats.kubernetes import field, is_empty_selector, items, labels, mapping, name, selector_matches
from ...probe import Evidence, Observation, ProbeContext, ProbeType, Value, register
from ...status import Status
from ..http import HTTP, HttpConfig
from .cluster_policies import EVERYWHERE, ClusterPolicies

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
#: Where clusters keep cluster-wide policies (kind → API); APIs a cluster does not serve
#: are skipped.
CLUSTER_WIDE = {
    "AdminNetworkPolicy": ADMIN_NETWORK_POLICIES,
    "BaselineAdminNetworkPolicy": BASELINE_ADMIN_NETWORK_POLICIES,
    "GlobalNetworkPolicy": CALICO_GLOBAL_NETWORK_POLICIES,
    "CiliumClusterwideNetworkPolicy": CILIUM_CLUSTERWIDE_POLICIES,
}


# --- kube_ingress ---------------------------------------------------------------------


class IngressHttpCheck(BaseModel):
    """GET ``<scheme>://<host>[:port]<path>`` for every host; 4xx/5xx or no answer fails."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(default="/", pattern=r"^/")
    #: auto: https for hosts with TLS, http for the others.
    scheme: Literal["auto", "https", "http"] = "auto"
    port: int | None = Field(default=None, ge=1, le=65535)
    verify_tls: bool = True
    ca_file: str | None = None


class KubeIngressConfig(KubeTarget):
    type: Literal["kube_ingress"] = "kube_ingress"
    #: Ingress names; default every Ingress of the namespace.
    ingresses: list[str] = Field(default_factory=list)
    http: IngressHttpCheck | None = None


def host_covered(host: str, tls_hosts: list[str]) -> bool:
    for pattern in tls_hosts:
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
            return True
    return False


async def _fetch(host: str, check: IngressHttpCheck, tls: bool, context: ProbeContext) -> Obj:
    scheme = check.scheme if check.scheme != "auto" else ("https" if tls else "http")
    port = f":{check.port}" if check.port else ""
    url = f"{scheme}://{host}{port}{check.path}"
    assert HTTP.gather is not None
    try:
        config = HttpConfig(url=url, verify_tls=check.verify_tls, ca_file=check.ca_file)
    except ValueError as exc:  # a host that makes no valid URL
        return {"url": url, "error": str(exc).splitlines()[-1].strip()}
    try:
        observed = await HTTP.gather(config, context)
    except ProbeError as exc:
        return {"url": url, "error": exc.message}
    result: Obj = {"url": url, "status": observed.values["STATUS"]}
    if "CERT_DAYS" in observed.values:
        result["cert_days"] = observed.values["CERT_DAYS"]
    return result


async def gather_ingress(config: KubeIngressConfig, context: ProbeContext) -> Observation:
    async with kube_connect(config, context) as kube:
        if config.ingresses:
            found = await asyncio.gather(*(kube.get(INGRESSES, n) for n in config.ingresses))
        else:
            found = await kube.objects(INGRESSES)
        source = kube.source()
    hosts: dict[str, bool] = {}
    tls_hosts: set[str] = set()
    values: dict[str, Any] = {"INGRESSES": [], "WITHOUT_ADDRESS": [], "TLS_SECRETS": [], "ADDRESSES": {}}
    for ingress in found:
        ingress_name = name(ingress)
        values["INGRESSES"].append(ingress_name)
        addresses = [
            a.get("ip") or a.get("hostname") for a in items(ingress, "status", "loadBalancer", "ingress")
        ]
        values["ADDRESSES"][ingress_name] = [a for a in addresses if a]
        if not addresses:
            values["WITHOUT_ADDRESS"].append(ingress_name)
        covered = [str(h) for tls in items(ingress, "spec", "tls") for h in tls.get("hosts") or []]
        tls_hosts.update(covered)
        values["TLS_SECRETS"] += [
            str(t["secretName"]) for t in items(ingress, "spec", "tls") if t.get("secretName")
        ]
        for rule in items(ingress, "spec", "rules"):
            if rule.get("host"):
                host = str(rule["host"])
                hosts[host] = hosts.get(host, False) or host_covered(host, covered)
    values["HOSTS"] = sorted(hosts)
    values["TLS_HOSTS"] = sorted(tls_hosts)
    values["HOSTS_WITHOUT_TLS"] = sorted(h for h, tls in hosts.items() if not tls)
    values["HTTP_FAILURES"] = []
    if config.http is not None:
        fetchable = [h for h in sorted(hosts) if not h.startswith("*")]
        answers = await asyncio.gather(*(_fetch(h, config.http, hosts[h], context) for h in fetchable))
        values["HTTP"] = dict(zip(fetchable, answers, strict=True))
        for host, answer in values["HTTP"].items():
            if "error" in answer:
                values["HTTP_FAILURES"].append(f"{host}: {answer['error']}")
            elif answer["status"] >= 400:
                values["HTTP_FAILURES"].append(f"{host}: HTTP {answer['status']}")
        days = [a["cert_days"] for a in answers if "cert_days" in a]
        values["MIN_CERT_DAYS"] = min(days) if days else None
    # An empty address alone proves nothing; without an HTTP check nothing else shows it serves.
    unverified = bool(values["WITHOUT_ADDRESS"]) and config.http is None
    message = _ingress_message(values)
    if unverified:
        message += "; add http: to check that it serves"
    return Observation(
        values=values,
        evidence=Evidence(source, context.now()),
        status=Status.WARN if unverified else None,
        message=message,
    )


def _ingress_message(values: dict[str, Any]) -> str:
    if not values["INGRESSES"]:
        return "no Ingress found"
    parts = [f"{len(values['INGRESSES'])} ingress(es), hosts: {', '.join(values['HOSTS']) or 'none'}"]
    if values["WITHOUT_ADDRESS"]:
        parts.append(f"no load-balancer address published: {', '.join(values['WITHOUT_ADDRESS'])}")
    if values["HOSTS_WITHOUT_TLS"]:
        parts.append(f"without TLS: {', '.join(values['HOSTS_WITHOUT_TLS'])}")
    if values["HTTP_FAILURES"]:
        parts.append(f"HTTP failures: {'; '.join(values['HTTP_FAILURES'])}")
    return "; ".join(parts)


KUBE_INGRESS = register(
    ProbeType(
        name="kube_ingress",
        summary="Ingress hosts, TLS and published addresses; optionally an HTTP(S) GET through "
        "every host, which decides whether an Ingress without an address serves.",
        config_model=KubeIngressConfig,
        gather=gather_ingress,
        values=(
            Value("INGRESSES", "Ingress names checked"),
            Value("HOSTS", "hosts of the Ingress rules"),
            Value("TLS_HOSTS", "hosts listed under spec.tls"),
            Value("HOSTS_WITHOUT_TLS", "rule hosts no TLS entry of their Ingress covers"),
            Value("TLS_SECRETS", "secret names of the TLS entries"),
            Value(
                "WITHOUT_ADDRESS",
                "Ingresses whose controller published no load-balancer address (it may still serve)",
            ),
            Value("ADDRESSES", "Ingress → load balancer IPs / hostnames", structured=True),
            Value("HTTP", "host → url, status, cert_days or error (with http)", structured=True),
            Value("HTTP_FAILURES", "hosts that answered 4xx/5xx or not at all (with http)"),
            Value("MIN_CERT_DAYS", "days until the first server certificate expires (with http)", "days"),
        ),
        default_conditions=(
            "len([INGRESSES]) > 0",
            "len([HOSTS_WITHOUT_TLS]) == 0",
            "len([HTTP_FAILURES]) == 0",
        ),
        reading=(
            (
                "Ingress has no admission status: controllers fill `status.loadBalancer` only when they "
                "publish an address (ingress-nginx without `--publish-service` serves with it empty). An "
                "empty one is reported (WITHOUT_ADDRESS), not failed; with `http` the request through "
                "each host decides, without it the item warns."
            ),
            (
                "A host has TLS when a `spec.tls` entry of the same Ingress covers it; `*.example.com` "
                "covers exactly one label."
            ),
        ),
        example={
            "type": "kube_ingress",
            "kubeconfig": "~/.kube/config",
            "namespace": "valeo",
            "http": {"path": "/healthz"},
        },
    )
)


# --- kube_services --------------------------------------------------------------------


class KubeServicesConfig(KubeTarget):
    type: Literal["kube_services"] = "kube_services"
    #: Service names; default every Service of the namespace except ExternalName ones.
    services: list[str] = Field(default_factory=list)


def ready_endpoints(slices: list[Obj]) -> int:
    """Distinct serving endpoints over all slices (dual-stack slices list a pod twice)."""
    ready: set[str] = set()
    for endpoint_slice in slices:
        for endpoint in items(endpoint_slice, "endpoints"):
            conditions = mapping(endpoint, "conditions")
            serving = conditions.get("serving", conditions.get("ready"))
            if serving is False or conditions.get("terminating") is True:
                continue
            target = endpoint.get("targetRef") or {}
            key = f"{target.get('kind')}/{target.get('name')}" if target.get("name") else None
            ready.add(key or ",".join(str(a) for a in endpoint.get("addresses") or []))
    return len(ready)


async def gather_services(config: KubeServicesConfig, context: ProbeContext) -> Observation:
    async with kube_connect(config, context) as kube:
        services, slices = await asyncio.gather(kube.objects(SERVICES), kube.objects(ENDPOINTSLICES))
        source = kube.source()
    by_name = {name(s): s for s in services}
    missing = [n for n in config.services if n not in by_name]
    if missing:
        raise PermanentProbeError(f"{source}: no Service {', '.join(missing)}")
    # ExternalName services are a DNS alias: no endpoints by design, named or not.
    chosen = [
        n for n in (config.services or sorted(by_name)) if field(by_name[n], "spec", "type") != "ExternalName"
    ]
    slices_of: dict[str, list[Obj]] = defaultdict(list)
    for endpoint_slice in slices:
        owner = labels(endpoint_slice).get(SERVICE_NAME_LABEL)
        if owner:
            slices_of[owner].append(endpoint_slice)
    counts = {service: ready_endpoints(slices_of[service]) for service in chosen}
    without = [s for s, count in counts.items() if count == 0]
    values = {"SERVICES": chosen, "SERVICES_WITHOUT_ENDPOINTS": without, "READY_ENDPOINTS": counts}
    if not chosen:
        message = "no Service found"
    elif without:
        details = [
            f"{s} ({len(slices_of[s])} EndpointSlice(s), no ready endpoint)"
            if slices_of[s]
            else f"{s} (no EndpointSlice)"
            for s in without
        ]
        message = f"{len(without)} of {len(chosen)} services without a ready endpoint: {', '.join(details)}"
    else:
        message = f"{len(chosen)} services, each with a ready endpoint"
    return Observation(values=values, evidence=Evidence(source, context.now()), message=message)


KUBE_SERVICES = register(
    ProbeType(
        name="kube_services",
        summary="Every Service has at least one ready endpoint in its EndpointSlices.",
        config_model=KubeServicesConfig,
        gather=gather_services,
        values=(
            Value("SERVICES", "Services checked"),
            Value("SERVICES_WITHOUT_ENDPOINTS", "Services with no ready endpoint"),
            Value("READY_ENDPOINTS", "Service → number of ready endpoints", structured=True),
        ),
        default_conditions=("len([SERVICES]) > 0", "len([SERVICES_WITHOUT_ENDPOINTS]) == 0"),
        reading=(
            (
                "An endpoint counts when it serves and is not terminating: `conditions.serving` where "
                "written (the EndpointSlice controller sets `ready` true for every endpoint of a "
                "`publishNotReadyAddresses` Service), else `ready`; null means true."
            ),
            (
                "Endpoints are counted once per pod over all of a Service's slices (dual-stack slices "
                "list a pod twice); ExternalName Services have no endpoints by design and are skipped."
            ),
        ),
        example={"type": "kube_services", "kubeconfig": "~/.kube/config", "namespace": "valeo"},
    )
)


# --- kube_network_policies ------------------------------------------------------------


class KubeNetworkPoliciesConfig(KubeTarget):
    type: Literal["kube_network_policies"] = "kube_network_policies"
    #: Namespaces that must be covered; default the target namespace.
    namespaces: list[str] = Field(default_factory=list)
    #: Require a default-deny egress policy too.
    egress: bool = False


def policy_types(policy: Obj) -> set[str]:
    declared = field(policy, "spec", "policyTypes")
    if declared:
        return {str(t) for t in declared}
    return {"Ingress", "Egress"} if field(policy, "spec", "egress") else {"Ingress"}


def _peer_is_everything(peer: Obj) -> bool:
    """A peer every pod of the cluster, or every address, matches."""
    block = mapping(peer, "ipBlock")
    if block:
        return str(block.get("cidr")) in EVERYWHERE and not block.get("except")
    if "namespaceSelector" in peer:
        return is_empty_selector(peer.get("namespaceSelector")) and (
            "podSelector" not in peer or is_empty_selector(peer.get("podSelector"))
        )
    return False


def allows_everything(rule: Obj, direction: str) -> bool:
    """A rule that admits every peer on every port: no ports, and no peers (or a peer
    that is everyone)."""
    if rule.get("ports"):
        return False
    peers = items(rule, "from" if direction == "Ingress" else "to")
    return not peers or any(_peer_is_everything(p) for p in peers)


def isolating_policy(policies: list[Obj], direction: str) -> str | None:
    """A policy that selects every pod of the namespace for the direction: from then on,
    only what policies allow gets through (NetworkPolicies add up)."""
    return next(
        (
            name(p)
            for p in sorted(policies, key=name)
            if is_empty_selector(field(p, "spec", "podSelector")) and direction in policy_types(p)
        ),
        None,
    )


def openings(namespace: str, policies: list[Obj], pods: list[Obj], direction: str) -> list[str]:
    """Policies that allow everything to some of the namespace's pods (to any pod their
    selector would pick, when the namespace has none running)."""
    found = []
    for policy in sorted(policies, key=name):
        if direction not in policy_types(policy):
            continue
        if not any(allows_everything(r, direction) for r in items(policy, "spec", direction.lower())):
            continue
        selector = field(policy, "spec", "podSelector")
        if pods:
            chosen = sorted(name(p) for p in pods if selector_matches(selector, labels(p)))
            if not chosen:
                continue
            whom = ", ".join(chosen[:3]) + (f" and {len(chosen) - 3} more" if len(chosen) > 3 else "")
        elif is_empty_selector(selector):
            whom = "every pod"
        else:
            continue
        peers = "source" if direction == "Ingress" else "destination"
        found.append(
            f"{namespace} ({direction.lower()}): {name(policy)} allows every {peers} on every port to {whom}"
        )
    return found


async def _unless_not_served(listing: Awaitable[list[Obj]]) -> list[Obj]:
    """Objects of an API the cluster may not serve: none when it does not."""
    try:
        return await listing
    except KubeNotFound:
        return []


async def _namespace(kube: KubeClient, namespace: str) -> Obj:
    try:
        return await kube.get(NAMESPACES, namespace)
    except KubeNotFound:  # the label every namespace carries is all a selector can match
        return {"metadata": {"name": namespace, "labels": {NAMESPACE_NAME_LABEL: namespace}}}


async def gather_policies(config: KubeNetworkPoliciesConfig, context: ProbeContext) -> Observation:
    async with kube_connect(config, context) as kube:
        namespaces = config.namespaces or [kube.namespace]
        listed, pods, namespace_objects, cluster_wide = await asyncio.gather(
            asyncio.gather(*(kube.objects(NETWORKPOLICIES, ns) for ns in namespaces)),
            asyncio.gather(
                *(
                    kube.objects(PODS, ns, field_selector="status.phase!=Succeeded,status.phase!=Failed")
                    for ns in namespaces
                )
            ),
            asyncio.gather(*(_namespace(kube, ns) for ns in namespaces)),
            asyncio.gather(
                *(_unless_not_served(kube.objects(resource)) for resource in CLUSTER_WIDE.values())
            ),
        )
        source = kube.source(", ".join(namespaces))
    cluster = ClusterPolicies(*cluster_wide)
    directions = ["Ingress", "Egress"] if config.egress else ["Ingress"]
    coverage: dict[str, dict[str, str | None]] = {}
    uncovered: list[str] = []
    allowed_all: list[str] = []
    for namespace, policies, running, namespace_object in zip(
        namespaces, listed, pods, namespace_objects, strict=True
    ):
        coverage[namespace] = {}
        for direction in directions:
            denies = cluster.denies(namespace_object, running, direction)
            enforced = next((d.policy for d in denies if d.enforced), None)
            isolation = (
                enforced or isolating_policy(policies, direction) or next((d.policy for d in denies), None)
            )
            # An admin-tier deny comes before NetworkPolicies: they cannot open it again.
            opened = [] if enforced else openings(namespace, policies, running, direction)
            allowed_all += opened
            coverage[namespace][direction.lower()] = isolation if not opened else None
            if isolation is None or opened:
                uncovered.append(f"{namespace} ({direction.lower()})")
    values = {
        "NAMESPACES_WITHOUT_DEFAULT_DENY": uncovered,
        "DEFAULT_DENY": coverage,
        "ALLOWED_ALL": allowed_all,
        "POLICIES": {
            ns: sorted(name(p) for p in policies) for ns, policies in zip(namespaces, listed, strict=True)
        },
        "CLUSTER_POLICIES": sorted(
            f"{kind} {name(p)}" for kind, found in zip(CLUSTER_WIDE, cluster_wide, strict=True) for p in found
        ),
    }
    if uncovered:
        message = f"no default-deny policy for: {', '.join(uncovered)}"
        if allowed_all:
            message += f"; {'; '.join(allowed_all[:3])}"
    else:
        message = f"default-deny {'/'.join(d.lower() for d in directions)} covers {', '.join(namespaces)}"
    return Observation(values=values, evidence=Evidence(source, context.now()), message=message)


KUBE_NETWORK_POLICIES = register(
    ProbeType(
        name="kube_network_policies",
        summary="Each namespace denies by default: every pod isolated (a podSelector {} "
        "NetworkPolicy or a cluster-wide deny) and no policy allowing everything beside it.",
        config_model=KubeNetworkPoliciesConfig,
        gather=gather_policies,
        values=(
            Value(
                "NAMESPACES_WITHOUT_DEFAULT_DENY",
                "namespace (direction) where pods are not isolated, or a policy allows everything",
            ),
            Value(
                "DEFAULT_DENY",
                "namespace → direction → the policy that denies by default (NetworkPolicy name, or "
                "Kind name of a cluster-wide one), or null",
                structured=True,
            ),
            Value("ALLOWED_ALL", "policies that allow every peer on every port, and to which pods"),
            Value("POLICIES", "namespace → NetworkPolicy names", structured=True),
            Value("CLUSTER_POLICIES", "cluster-wide policies found (AdminNetworkPolicy, Calico, Cilium, …)"),
        ),
        default_conditions=("len([NAMESPACES_WITHOUT_DEFAULT_DENY]) == 0",),
        reading=(
            (
                "NetworkPolicies add up: a namespace denies by default when every pod is isolated in the "
                "direction (a `podSelector: {}` policy of that type, or a cluster-wide deny) and no "
                "policy allows everything to its running pods (a rule without ports whose peers are "
                "absent, 0.0.0.0/0, ::/0 or `namespaceSelector: {}`). So `default-deny` beside `allow-"
                "all` fails, and a deny with narrow openings passes."
            ),
            (
                "Cluster-wide denies count where the cluster serves their API (a cluster without them is "
                "not an error): AdminNetworkPolicy (before NetworkPolicies, which then cannot open it), "
                "BaselineAdminNetworkPolicy, Calico GlobalNetworkPolicy (simple `&&` selectors), Cilium "
                "CiliumClusterwideNetworkPolicy."
            ),
            (
                "Absent `policyTypes` mean Ingress, plus Egress with egress rules (the API server fills "
                "them in). Whether the CNI enforces policies is not visible in the API."
            ),
        ),
        example={
            "type": "kube_network_policies",
            "kubeconfig": "~/.kube/config",
            "namespaces": ["valeo", "valeo-jobs"],
            "egress": False,
        },
    )
)
