"""golive's RBAC grants exactly the Kubernetes API calls its probes make, read-only.

Three sources are compared:

- the code: every call the probe modules can make (tests/deploy/kube_calls.py reads them
  from the syntax trees: verb, API group, resource, namespaced or cluster-wide);
- the wire: the kube items of the checklist the manifests mount, with the settings they
  deploy, plus the probe options the checklist does not use (named workloads, the Helm
  ConfigMap driver, CronJobs), run against the fake API server of
  tests/checks/kubernetes/, which records each request as RBAC sees it;
- the rendered RBAC: the rules bound to the Deployment's ServiceAccount, evaluated the way
  the API server's RBAC authorizer evaluates them.

The code and the wire must agree (so the static reading is right and every call was
exercised), the RBAC rules must cover exactly the code's calls (nothing missing, nothing
more), every call the deployed checklist makes must be allowed in its namespace, and
every RoleBinding must be needed there.

The one writer, the leader-election Lease (golive/bot/ha/kubernetes.py), is proven on the
wire: a KubernetesLease configured as the Deployment configures it takes, renews, loses
and releases the Lease against the fake API server, and the Role golive-leader-election
must allow each of those calls, and grant nothing (no verb, no name) they do not use.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive.bot.ha.kubernetes import KubernetesLease
from golive.checks.clients.kubernetes import KubeTarget
from golive.checks.loader import loads
from golive.checks.probe import all_probe_types
from golive.checks.runner import run_checklist
from tests.checks.kubernetes.fake_apiserver import TOKEN, Call, Cluster, FakeApiServer, serving

from .kube_calls import ApiCall, calls_in_code, client_usage_problems
from .kustomize import Obj, Rendered

LEADER_ELECTION = "golive-leader-election"
READ_VERBS = {"get", "list"}
RELEASE_NAMESPACE = "${GOLIVE_NAMESPACE}"
#: Probe options that change which calls are made and that the bundled checklist leaves
#: out: named objects are read with GET, Helm's ConfigMap driver, CronJobs.
VARIANTS: list[dict[str, Any]] = [
    {
        "type": "kube_workloads",
        "namespace": RELEASE_NAMESPACE,
        "deployments": ["api"],
        "statefulsets": ["db"],
        "daemonsets": ["agent"],
    },
    {"type": "kube_workloads", "namespace": RELEASE_NAMESPACE},
    {
        "type": "helm_release",
        "namespace": RELEASE_NAMESPACE,
        "release": "valeo-neuroerp",
        "storage": "configmap",
    },
    {"type": "kube_ingress", "namespace": RELEASE_NAMESPACE, "ingresses": ["valeo"]},
    {"type": "kube_cronjobs", "namespace": RELEASE_NAMESPACE, "cronjobs": ["pg-backup"]},
    {"type": "kube_cronjobs", "namespace": RELEASE_NAMESPACE},
]


@dataclass(frozen=True)
class Wire:
    """The requests the fake API server recorded."""

    deployed: list[Call]  # the mounted checklist's kube items
    variants: list[Call]  # VARIANTS

    @property
    def all(self) -> list[Call]:
        return self.deployed + self.variants


@dataclass(frozen=True)
class Grant:
    """One rule bound to the ServiceAccount, cluster-wide (namespace None) or in a namespace."""

    namespace: str | None
    binding: str
    role: str
    rule: Obj

    def triples(self) -> set[tuple[str, str, str]]:
        """(verb, group, resource) the rule names (wildcards are refused elsewhere)."""
        rule = self.rule
        return set(
            itertools.product(rule.get("verbs", []), rule.get("apiGroups", []), rule.get("resources", []))
        )

    def allows(self, call: Call) -> bool:
        """The RBAC authorizer's rule match: a rule limited to resourceNames matches only
        requests for one of those objects (never a list or a create, which name none)."""
        if self.namespace is not None and self.namespace != call.namespace:
            return False
        names = self.rule.get("resourceNames")
        if names and call.name not in names:
            return False
        return (call.verb, call.group, call.resource) in self.triples()


def grants(rendered: Rendered) -> list[Grant]:
    """Every rule bound to the Deployment's ServiceAccount."""
    account = {
        "kind": "ServiceAccount",
        "name": rendered.pod["serviceAccountName"],
        "namespace": rendered.deployment["metadata"]["namespace"],
    }
    cluster_roles = {r["metadata"]["name"]: r for r in rendered.of_kind("ClusterRole")}
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in rendered.of_kind("Role")}
    found: list[Grant] = []
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for binding in rendered.of_kind(kind):
            if account not in binding.get("subjects", []):
                continue
            namespace = binding["metadata"].get("namespace") if kind == "RoleBinding" else None
            reference = binding["roleRef"]
            if reference["kind"] == "Role":
                role = roles[(namespace, reference["name"])]
            else:
                role = cluster_roles[reference["name"]]
            name = binding["metadata"]["name"]
            found += [Grant(namespace, name, reference["name"], rule) for rule in role.get("rules", [])]
    return found


def probe_grants(rendered: Rendered) -> list[Grant]:
    return [g for g in grants(rendered) if g.role != LEADER_ELECTION]


def _kube_probe_types() -> set[str]:
    return {name for name, probe in all_probe_types().items() if issubclass(probe.config_model, KubeTarget)}


def _checklist(items: list[dict[str, Any]]) -> str:
    return yaml.safe_dump(
        {
            "release": {"name": "VALEO-NeuroERP", "version": "1.1.0"},
            "defaults": {"timeout": "10s"},
            "phases": [
                {
                    "id": "rbac",
                    "title": "RBAC",
                    "sections": [{"id": "kube", "title": "Kubernetes", "items": items}],
                }
            ],
        },
        sort_keys=False,
    )


def _mounted_checklist(rendered: Rendered) -> dict[str, Any]:
    path = Path(rendered.env()["GOLIVE_CHECKLIST"])
    (configmap,) = [c for c in rendered.of_kind("ConfigMap") if path.name in c.get("data", {})]
    document: dict[str, Any] = yaml.safe_load(configmap["data"][path.name])
    return document


def _kube_probes(document: dict[str, Any]) -> list[dict[str, Any]]:
    kube = _kube_probe_types()
    return [
        item["probe"]
        for phase in document["phases"]
        for section in phase["sections"]
        for item in section["items"]
        if isinstance(item.get("probe"), dict) and item["probe"].get("type") in kube
    ]


@pytest.fixture(scope="module")
def fake_apiserver() -> Iterator[FakeApiServer]:
    # Every optional API served, so every call the probes can make is exercised.
    served = {"velero.io", "policy.networking.k8s.io", "crd.projectcalico.org", "cilium.io"}
    with serving({"rbac": Cluster(name="rbac", crds=frozenset(served))}) as server:
        yield server


@pytest.fixture(scope="module")
def wire(
    fake_apiserver: FakeApiServer, overlays: dict[str, Rendered], tmp_path_factory: pytest.TempPathFactory
) -> Wire:
    single, ha = overlays["single"], overlays["ha"]
    # Both overlays probe the same namespaces with the same checklist: one run serves both.
    assert _mounted_checklist(single) == _mounted_checklist(ha)
    settings = [o.generated("ConfigMap", "golive-env")["data"] for o in (single, ha)]
    assert settings[0] == settings[1]
    token = tmp_path_factory.mktemp("kube") / "token"
    token.write_text(TOKEN + "\n")
    # Where the cluster is does not change what is read: the fake server instead of the
    # in-cluster account.
    where = {"server": fake_apiserver.url("rbac"), "token": {"file": str(token)}}

    def run(probes: list[dict[str, Any]]) -> list[Call]:
        items = [
            {"id": f"kube-{n}", "title": f"kube {n}", "probe": {**probe, **where}}
            for n, probe in enumerate(probes)
        ]
        checklist = loads(_checklist(items), env=single.env())
        before = len(fake_apiserver.calls())
        asyncio.run(run_checklist(checklist))
        return fake_apiserver.calls()[before:]

    deployed = _kube_probes(_mounted_checklist(single))
    assert deployed, "the mounted checklist has Kubernetes items"
    for probe in deployed:
        assert not {"kubeconfig", "context", "server"} & set(probe), "in-cluster: the ServiceAccount reads"
    return Wire(deployed=run(deployed), variants=run(VARIANTS))


@pytest.fixture(scope="module")
def lease_wire(
    fake_apiserver: FakeApiServer, overlays: dict[str, Rendered], tmp_path_factory: pytest.TempPathFactory
) -> list[Call]:
    """The requests of two replicas' KubernetesLease, set up from the Deployment's
    environment and namespace, through one handover after a release and one after a lapse."""
    single, ha = overlays["single"], overlays["ha"]
    namespace = single.deployment["metadata"]["namespace"]
    assert ha.deployment["metadata"]["namespace"] == namespace
    lease_settings = {k: v for k, v in single.env().items() if k.startswith("GOLIVE_LEASE_")}
    assert lease_settings == {k: v for k, v in ha.env().items() if k.startswith("GOLIVE_LEASE_")}
    folder = tmp_path_factory.mktemp("lease")
    (folder / "namespace").write_text(namespace)  # what the kubelet mounts for the pod
    kubeconfig = folder / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "clusters": [{"name": "rbac", "cluster": {"server": fake_apiserver.url("rbac")}}],
                "users": [{"name": "golive", "user": {"token": TOKEN}}],
                "contexts": [{"name": "rbac", "context": {"cluster": "rbac", "user": "golive"}}],
                "current-context": "rbac",
            }
        )
    )
    duration = timedelta(seconds=1)

    async def replicas_take_turns() -> None:
        a, b = (KubernetesLease.from_environment(service_account_dir=folder) for _ in range(2))
        await a.acquire("a", duration)  # get (not found), create
        await a.acquire("a", duration)  # get, update (renew)
        await b.acquire("b", duration)  # get: held
        await a.release("a")  # get, update
        await b.acquire("b", duration)  # get, update (take over a released lease)
        await asyncio.sleep(duration.total_seconds() + 0.1)
        await a.acquire("a", duration)  # get, update (take over a lapsed lease)
        a.close()
        b.close()

    before = len(fake_apiserver.calls())
    with pytest.MonkeyPatch.context() as environment:
        for variable in ("GOLIVE_LEASE_NAMESPACE", "GOLIVE_LEASE_NAME", "GOLIVE_LEASE_CONTEXT"):
            environment.delenv(variable, raising=False)
        for variable, value in lease_settings.items():
            environment.setenv(variable, value)
        environment.setenv("KUBECONFIG", str(kubeconfig))
        asyncio.run(replicas_take_turns())
    calls = fake_apiserver.calls()[before:]
    assert {c.verb for c in calls} == {"get", "create", "update"}
    return calls


def _scoped(call: Call) -> tuple[str, str, str, str]:
    return (call.verb, call.group, call.resource, "namespaced" if call.namespace else "cluster-wide")


def _code() -> set[ApiCall]:
    return calls_in_code()


def test_probes_reach_the_api_only_through_kube_objects_and_get() -> None:
    assert client_usage_problems() == []


def test_the_calls_read_from_the_code_are_the_calls_on_the_wire(wire: Wire) -> None:
    code = {(c.verb, c.group, c.resource, c.scope) for c in _code()}
    made = {_scoped(call) for call in wire.all}
    assert made - code == set(), "made on the wire, not found in the code: kube_calls.py misreads it"
    assert code - made == set(), "in the code, never exercised: add the option to VARIANTS"


def test_rbac_grants_exactly_the_calls_in_the_probe_code(rendered: Rendered) -> None:
    code = _code()
    needed_wide = {(c.verb, c.group, c.resource) for c in code if c.scope == "cluster-wide"}
    bound = probe_grants(rendered)
    granted_wide = set().union(*(g.triples() for g in bound if g.namespace is None))
    assert granted_wide == needed_wide, "cluster-wide rules differ from the cluster-wide calls"
    # Namespaced calls the cluster-wide grant already covers (pods) need no namespaced rule.
    needed = {(c.verb, c.group, c.resource) for c in code if c.scope == "namespaced"} - granted_wide
    granted = set().union(*(g.triples() for g in bound if g.namespace is not None))
    missing, extra = needed - granted, granted - needed
    assert not missing, f"calls in the code no rule grants: {sorted(missing)}"
    assert not extra, f"rules no call in the code needs: {sorted(extra)}"


def test_every_call_of_the_deployed_checklist_is_allowed_in_its_namespace(
    rendered: Rendered, wire: Wire
) -> None:
    bound = grants(rendered)
    denied = {
        (c.verb, c.group, c.resource, c.namespace or "(all namespaces / cluster)")
        for c in wire.all
        if not any(g.allows(c) for g in bound)
    }
    assert not denied, f"forbidden: {sorted(denied)}"


def test_every_role_binding_is_needed_by_the_deployed_checklist(rendered: Rendered, wire: Wire) -> None:
    bindings: dict[tuple[str, str], list[Grant]] = {}
    for grant in probe_grants(rendered):
        if grant.namespace is not None:
            bindings.setdefault((grant.namespace, grant.binding), []).append(grant)
    for (namespace, binding), rules in sorted(bindings.items()):
        used = [c for c in wire.deployed if any(g.allows(c) for g in rules)]
        assert used, f"RoleBinding {namespace}/{binding}: the deployed checklist makes no call it allows"
    settings = rendered.env()
    probed = {
        settings[k] for k in ("GOLIVE_NAMESPACE", "GOLIVE_STAGING_NAMESPACE", "GOLIVE_VELERO_NAMESPACE")
    }
    assert {ns for ns, _ in bindings} == probed, "RoleBindings and golive.env name different namespaces"


def test_rules_are_read_only_and_name_everything(rendered: Rendered) -> None:
    for grant in grants(rendered):
        rule = grant.rule
        assert "nonResourceURLs" not in rule, grant
        for key in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(key, []) and not any("*" in v for v in rule.get(key, [])), grant
        if grant.role != LEADER_ELECTION:
            assert set(rule["verbs"]) <= READ_VERBS, f"{grant.role}: {rule['verbs']} is not read-only"
    for role in rendered.of_kind("ClusterRole"):
        assert "aggregationRule" not in role, role["metadata"]["name"]


def test_secrets_are_only_listed_where_helm_releases_are_read(rendered: Rendered, wire: Wire) -> None:
    secret_grants = [g for g in probe_grants(rendered) if "secrets" in g.rule.get("resources", [])]
    assert secret_grants
    for grant in secret_grants:
        assert grant.namespace is not None, "never cluster-wide"
        assert grant.rule["verbs"] == ["list"], "listed by label selector; never read by name"
        assert grant.rule["apiGroups"] == [""]
    secret_calls = [c for c in wire.deployed if c.resource == "secrets"]
    # Helm's storage is found by label: RBAC cannot narrow a list by label (see rbac.yaml).
    assert {c.label_selector for c in secret_calls} == {"owner=helm,name=valeo-neuroerp"}
    assert {g.namespace for g in secret_grants} == {c.namespace for c in secret_calls}


def test_the_leader_lease_calls_are_allowed_by_its_role_alone(
    rendered: Rendered, lease_wire: list[Call]
) -> None:
    lease_grants = [g for g in grants(rendered) if g.role == LEADER_ELECTION]
    denied = [c for c in lease_wire if not any(g.allows(c) for g in lease_grants)]
    assert not denied, f"forbidden: {denied}"
    by_probe_roles = [c for c in lease_wire if any(g.allows(c) for g in probe_grants(rendered))]
    assert not by_probe_roles, f"allowed by a probe role too: {by_probe_roles}"


def test_the_leader_election_role_grants_nothing_the_lease_calls_do_not_use(
    rendered: Rendered, lease_wire: list[Call]
) -> None:
    for grant in (g for g in grants(rendered) if g.role == LEADER_ELECTION):
        for verb, group, resource in sorted(grant.triples()):
            for name in grant.rule.get("resourceNames") or [None]:
                used = [
                    c
                    for c in lease_wire
                    if (c.verb, c.group, c.resource) == (verb, group, resource)
                    and grant.allows(c)
                    and name in (None, c.name)
                ]
                assert used, f"{grant.role} grants {verb} {resource} {name or ''}, which no call uses"
    # Whatever can be limited to one Lease is: every call that names it.
    for call in lease_wire:
        if call.name is not None:
            allowing = [g for g in grants(rendered) if g.allows(call)]
            assert all(g.rule.get("resourceNames") == [call.name] for g in allowing), call


def test_leader_election_lease_in_golive_own_namespace_only(rendered: Rendered) -> None:
    namespace = rendered.deployment["metadata"]["namespace"]
    lease_grants = [g for g in grants(rendered) if g.role == LEADER_ELECTION]
    assert {g.namespace for g in lease_grants} == {namespace}
    rules = sorted((tuple(g.rule["verbs"]), tuple(g.rule.get("resourceNames", []))) for g in lease_grants)
    assert rules == [(("create",), ()), (("get", "update"), ("golive-leader",))]
    for grant in lease_grants:
        assert (grant.rule["apiGroups"], grant.rule["resources"]) == (["coordination.k8s.io"], ["leases"])
    assert not [g for g in probe_grants(rendered) if "leases" in g.rule.get("resources", [])]
