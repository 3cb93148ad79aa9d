"""What the deployed pods do: ``kube_pod_security`` and ``kube_secret_refs``.

Both read the pods of a namespace (optionally by label selector), containers and init
containers alike, and name each finding once per workload (``deployment/api``), not
once per replica.

``kube_pod_security`` has two profiles. ``profile: restricted`` applies the Pod Security
Standard "restricted" in full (kube_pss.py) and names each violation by pod and
container (ephemeral containers included). ``profile: custom`` (the default; the seed's
"best practices") checks a chosen subset, per container:

- ``run_as_non_root``: ``runAsNonRoot: true``, or a ``runAsUser`` other than 0; the
  container's securityContext overrides the pod's. ``runAsUser: 0`` is root whatever
  runAsNonRoot says (the kubelet then refuses to start it).
- ``read_only_root_filesystem``: ``readOnlyRootFilesystem: true``.
- ``not_privileged``: not ``privileged: true``.
- ``no_privilege_escalation``: ``allowPrivilegeEscalation: false``, written out: unset
  means allowed.
- ``limits``: every resource of ``require_limits`` has a limit.
- ``no_host_namespaces``: no hostNetwork, hostPID or hostIPC.

Windows pods (``spec.os.name: windows``) are checked for limits and host namespaces only;
the other fields do not apply to them.

``kube_secret_refs``: secrets come by reference (``secretKeyRef``, ``envFrom``); an ``env``
``value:`` literal whose name looks secret (PASSWORD, TOKEN, SECRET, KEY, …) or that is a
URL with a password is a finding. Only the variable's name is reported, never the value.
A value that is only ``$(OTHER_VAR)`` is a reference and fine.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Literal

from pydantic import Field, model_validator

from ...clients.kubernetes import PODS, KubeClient, KubeTarget, Obj
from ...clients.kubernetes import connect as kube_connect
from ...formats.kubernetes import containers, field, items, mapping, owner
from ...probe import Evidence, Observation, ProbeContext, ProbeType, Value, register
from ...secret_names import is_secret_env_name
from .pod_security import all_containers, container_findings, pod_findings

Rule = Literal[
    "run_as_non_root",
    "read_only_root_filesystem",
    "not_privileged",
    "no_privilege_escalation",
    "limits",
    "no_host_namespaces",
]
RULES: tuple[Rule, ...] = (
    "run_as_non_root",
    "read_only_root_filesystem",
    "not_privileged",
    "no_privilege_escalation",
    "limits",
    "no_host_namespaces",
)
LimitedResource = Literal["cpu", "memory"]
LIMITED_RESOURCES: tuple[LimitedResource, ...] = ("cpu", "memory")
_LINUX_ONLY = frozenset(
    {"run_as_non_root", "read_only_root_filesystem", "not_privileged", "no_privilege_escalation"}
)
_URL_WITH_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*:[^/@\s]+@")
_ONLY_REFERENCES = re.compile(r"^(\$\([A-Za-z_][A-Za-z0-9_]*\))+$")


class _PodsConfig(KubeTarget):
    #: Label selector of the pods to check; default every pod of the namespace.
    selector: str | None = None
    #: Container names to leave out (a vendor sidecar you cannot change).
    exclude_containers: list[str] = Field(default_factory=list)


class KubePodSecurityConfig(_PodsConfig):
    type: Literal["kube_pod_security"] = "kube_pod_security"
    #: restricted: the Pod Security Standard "restricted" in full; custom: ``rules``.
    profile: Literal["custom", "restricted"] = "custom"
    #: With profile custom: which rules apply.
    rules: list[Rule] = Field(default_factory=lambda: list(RULES), min_length=1)
    #: With profile custom and the limits rule: resources that need a limit.
    require_limits: list[LimitedResource] = Field(default_factory=lambda: list(LIMITED_RESOURCES))

    @model_validator(mode="after")
    def _rules_go_with_custom(self) -> KubePodSecurityConfig:
        if self.profile == "restricted" and {"rules", "require_limits"} & self.model_fields_set:
            raise ValueError(
                "rules and require_limits go with profile custom; restricted applies the Pod Security "
                "Standard as a whole"
            )
        return self


class KubeSecretRefsConfig(_PodsConfig):
    type: Literal["kube_secret_refs"] = "kube_secret_refs"
    #: Variable names that look secret but are not (``PUBLIC_KEY``).
    allow: list[str] = Field(default_factory=list)


def container_violations(
    pod_spec: Obj, container: Obj, config: KubePodSecurityConfig
) -> list[tuple[str, str]]:
    """(rule, finding) for one container of a pod."""
    pod_context = mapping(pod_spec, "securityContext")
    own = mapping(container, "securityContext")
    windows = field(pod_spec, "os", "name") == "windows"
    found: list[tuple[str, str]] = []
    user = own.get("runAsUser", pod_context.get("runAsUser"))
    non_root = own.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    if user == 0:
        found.append(("run_as_non_root", "runs as root (runAsUser 0)"))
    elif non_root is not True and user is None:
        found.append(("run_as_non_root", "may run as root (no runAsNonRoot: true, no runAsUser)"))
    if own.get("readOnlyRootFilesystem") is not True:
        found.append(("read_only_root_filesystem", "writable root filesystem"))
    if own.get("privileged") is True:
        found.append(("not_privileged", "privileged"))
    if own.get("allowPrivilegeEscalation") is not False:
        found.append(("no_privilege_escalation", "allowPrivilegeEscalation not false"))
    limits = mapping(container, "resources", "limits")
    unset = [r for r in config.require_limits if limits.get(r) is None]
    if unset:
        found.append(("limits", f"no {'/'.join(unset)} limit"))
    return [
        (rule, text) for rule, text in found if rule in config.rules and not (windows and rule in _LINUX_ONLY)
    ]


def literal_secrets(container: Obj, allow: set[str]) -> list[str]:
    found = []
    for variable in items(container, "env"):
        env_name, value = str(variable.get("name", "")), variable.get("value")
        if not isinstance(value, str) or not value or env_name in allow or _ONLY_REFERENCES.match(value):
            continue
        if _URL_WITH_PASSWORD.match(value):
            found.append(f"env {env_name} (URL with a password)")
        elif is_secret_env_name(env_name):
            found.append(f"env {env_name}")
    return found


def references(container: Obj) -> int:
    by_key = sum(1 for v in items(container, "env") if field(v, "valueFrom", "secretKeyRef"))
    return by_key + sum(1 for source in items(container, "envFrom") if source.get("secretRef"))


async def _pods(kube: KubeClient, config: _PodsConfig) -> list[Obj]:
    return await kube.objects(PODS, label_selector=config.selector)


def restricted_findings(pods: list[Obj], exclude: list[str]) -> tuple[list[str], Counter[str]]:
    """Every Pod Security Standard "restricted" violation, by pod and container."""
    findings: list[str] = []
    per_rule: Counter[str] = Counter()
    for pod in pods:
        where = f"pod {field(pod, 'metadata', 'namespace')}/{field(pod, 'metadata', 'name')}"
        spec = mapping(pod, "spec")
        found = [(rule, f"{where}: {text}") for rule, text in pod_findings(pod)]
        for label, container in all_containers(spec):
            if str(container.get("name")) not in exclude:
                found += [
                    (rule, f"{where} container {label}: {text}")
                    for rule, text in container_findings(spec, container)
                ]
        for rule, text in found:
            per_rule[rule] += 1
            findings.append(text)
    return sorted(findings), per_rule


async def gather_security(config: KubePodSecurityConfig, context: ProbeContext) -> Observation:
    async with kube_connect(config, context) as kube:
        pods = await _pods(kube, config)
        source = kube.source()
    if config.profile == "restricted":
        violations, by_rule = restricted_findings(pods, config.exclude_containers)
        return _security_observation(config, pods, violations, by_rule, Evidence(source, context.now()))
    findings: set[str] = set()
    per_rule: Counter[str] = Counter()
    for pod in pods:
        spec = mapping(pod, "spec")
        host = [f for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f) is True]
        if host and "no_host_namespaces" in config.rules:
            finding = f"{owner(pod)}: {', '.join(host)}"
            per_rule["no_host_namespaces"] += finding not in findings
            findings.add(finding)
        for label, container in containers(spec):
            if str(container.get("name")) in config.exclude_containers:
                continue
            for rule, text in container_violations(spec, container, config):
                finding = f"{owner(pod)} container {label}: {text}"
                per_rule[rule] += finding not in findings
                findings.add(finding)
    return _security_observation(config, pods, sorted(findings), per_rule, Evidence(source, context.now()))


def _security_observation(
    config: KubePodSecurityConfig,
    pods: list[Obj],
    violations: list[str],
    per_rule: Counter[str],
    evidence: Evidence,
) -> Observation:
    values = {
        "VIOLATIONS": violations,
        "BY_RULE": dict(per_rule),
        "PODS": len(pods),
        "PROFILE": config.profile,
    }
    profile = "Pod Security Standard restricted" if config.profile == "restricted" else "custom rules"
    message = (
        f"{profile}: {len(violations)} finding(s) in {len(pods)} pod(s): {'; '.join(violations[:4])}"
        + ("; …" if len(violations) > 4 else "")
        if violations
        else f"{profile}: {len(pods)} pod(s), no findings"
    )
    return Observation(values=values, evidence=evidence, message=message)


async def gather_secret_refs(config: KubeSecretRefsConfig, context: ProbeContext) -> Observation:
    async with kube_connect(config, context) as kube:
        pods = await _pods(kube, config)
        source = kube.source()
    literals: set[str] = set()
    referenced = 0
    for pod in pods:
        for label, container in containers(mapping(pod, "spec")):
            if str(container.get("name")) in config.exclude_containers:
                continue
            literals.update(
                f"{owner(pod)} container {label}: {f}" for f in literal_secrets(container, set(config.allow))
            )
            referenced += references(container)
    found = sorted(literals)
    values: dict[str, Any] = {"SECRET_LITERALS": found, "SECRET_REFERENCES": referenced, "PODS": len(pods)}
    message = (
        f"secret-looking literals: {'; '.join(found[:4])}" + ("; …" if len(found) > 4 else "")
        if found
        else f"{len(pods)} pod(s): {referenced} secret reference(s), no secret-looking literals"
    )
    return Observation(values=values, evidence=Evidence(source, context.now()), message=message)


KUBE_POD_SECURITY = register(
    ProbeType(
        name="kube_pod_security",
        summary="Deployed pods: the Pod Security Standard restricted (profile: restricted), or "
        "chosen rules: non-root, read-only root filesystem, not privileged, no privilege "
        "escalation, limits set, no host namespaces.",
        config_model=KubePodSecurityConfig,
        gather=gather_security,
        values=(
            Value(
                "VIOLATIONS",
                "custom: workload container <name>: finding, once per workload; restricted: "
                "pod <namespace>/<name> [container <name>]: finding",
            ),
            Value("BY_RULE", "rule → number of findings", structured=True),
            Value("PODS", "pods checked"),
            Value("PROFILE", "custom or restricted"),
        ),
        default_conditions=("[PODS] > 0", "len([VIOLATIONS]) == 0"),
        reading=(
            (
                "`profile: restricted` applies the Pod Security Standard restricted in full, as the Pod "
                "Security admission controller does: `runAsNonRoot: true`, `allowPrivilegeEscalation: "
                "false`, drop ALL capabilities and add at most NET_BIND_SERVICE, seccomp RuntimeDefault "
                "or Localhost, no host namespaces, hostPath or hostPort, not privileged, default "
                "procMount, safe sysctls, restricted volume types; each violation by pod and container, "
                "ephemeral containers included."
            ),
            (
                "`profile: custom` (the default) checks the chosen `rules` per container and names each "
                "finding once per workload; `runAsUser` other than 0 counts as non-root there, which the "
                "standard does not accept."
            ),
        ),
        example={
            "type": "kube_pod_security",
            "kubeconfig": "~/.kube/config",
            "namespace": "valeo",
            "require_limits": ["memory"],
            "exclude_containers": ["istio-proxy"],
        },
    )
)

KUBE_SECRET_REFS = register(
    ProbeType(
        name="kube_secret_refs",
        summary="Workloads read secrets by reference: no secret-looking literal env values.",
        config_model=KubeSecretRefsConfig,
        gather=gather_secret_refs,
        values=(
            Value(
                "SECRET_LITERALS",
                "workload container <name>: env NAME with a literal value (never the value)",
            ),
            Value("SECRET_REFERENCES", "env entries and envFrom sources that reference a Secret"),
            Value("PODS", "pods checked"),
        ),
        default_conditions=("[PODS] > 0", "len([SECRET_LITERALS]) == 0"),
        reading=(
            (
                "Only literal `env` values are judged: by the last word of the variable's name "
                "(DB_PASSWORD, API_TOKEN, SIGNING_KEY, …; not TOKEN_URL) "
                "or a URL with a password; `$(OTHER)` references and `secretKeyRef`/`envFrom` are fine. "
                "Values never appear in results."
            ),
        ),
        example={"type": "kube_secret_refs", "kubeconfig": "~/.kube/config", "namespace": "valeo"},
    )
)
