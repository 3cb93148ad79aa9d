"""The Pod Security Standard "restricted" profile (which includes "baseline"), as the
Pod Security admission controller applies it (kubernetes.io/docs/concepts/security/
pod-security-standards, k8s.io/pod-security-admission/policy). Pure: pod JSON in,
findings out.

Per pod: no hostNetwork/hostPID/hostIPC, no Windows hostProcess, only safe sysctls,
only the volume types restricted allows (configMap, csi, downwardAPI, emptyDir,
ephemeral, persistentVolumeClaim, projected, secret), no Unconfined seccomp, AppArmor
or out-of-range SELinux options at pod level, no ``runAsUser: 0``.

Per container (init, regular and ephemeral alike; the container's securityContext
overrides the pod's where both have the field):

- not privileged, no hostProcess, no ``hostPort``, ``procMount`` unset or Default;
- ``allowPrivilegeEscalation: false``, written out;
- ``runAsNonRoot: true`` (its own or the pod's), and no ``runAsUser: 0``;
- ``seccompProfile`` RuntimeDefault or Localhost (its own or the pod's);
- capabilities: ``drop`` includes ALL, ``add`` at most NET_BIND_SERVICE;
- AppArmor RuntimeDefault or Localhost when set; SELinux type among the container
  types, no user or role.

Windows pods (``spec.os.name: windows``) are exempt from the privilege-escalation,
seccomp and capabilities rules, as in the admission controller.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ...clients.kubernetes import Obj
from ...formats.kubernetes import containers, field, items, mapping

SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
CONFINED = frozenset({"RuntimeDefault", "Localhost"})
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"

#: (rule, finding); rule ids group the findings in BY_RULE.
Finding = tuple[str, str]


def all_containers(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, Obj]]:
    """(label, container) for init, regular and ephemeral (``ephemeral:<name>``) containers."""
    yield from containers(pod_spec)
    for container in items(pod_spec, "ephemeralContainers"):
        yield f"ephemeral:{container.get('name', '')}", container


def pod_findings(pod: Obj) -> list[Finding]:
    spec = mapping(pod, "spec")
    context = mapping(spec, "securityContext")
    found: list[Finding] = []
    for namespace in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(namespace) is True:
            found.append(("host_namespaces", f"{namespace} true"))
    if field(context, "windowsOptions", "hostProcess") is True:
        found.append(("host_process", "Windows hostProcess"))
    for sysctl in items(context, "sysctls"):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(("sysctls", f"sysctl {sysctl.get('name')} is not a safe sysctl"))
    for volume in items(spec, "volumes"):
        kinds = [key for key in volume if key != "name"]
        for kind in kinds:
            if kind not in RESTRICTED_VOLUMES:
                found.append(("volume_types", f"volume {volume.get('name')} is {kind}"))
    if field(context, "seccompProfile", "type") == "Unconfined":
        found.append(("seccomp", "seccompProfile Unconfined"))
    if context.get("runAsUser") == 0:
        found.append(("run_as_non_root_user", "runAsUser 0"))
    found += _confinement(context)
    for key, value in mapping(pod, "metadata", "annotations").items():
        if str(key).startswith(_APPARMOR_ANNOTATION) and not _apparmor_annotation_ok(str(value)):
            container = str(key)[len(_APPARMOR_ANNOTATION) :]
            found.append(("apparmor", f"AppArmor {value} for container {container}"))
    return found


def container_findings(pod_spec: Mapping[str, Any], container: Obj) -> list[Finding]:
    pod_context = mapping(pod_spec, "securityContext")
    own = mapping(container, "securityContext")
    windows = field(pod_spec, "os", "name") == "windows"
    found: list[Finding] = []
    if own.get("privileged") is True:
        found.append(("privileged", "privileged"))
    if field(own, "windowsOptions", "hostProcess") is True:
        found.append(("host_process", "Windows hostProcess"))
    for port in items(container, "ports"):
        if port.get("hostPort"):
            found.append(("host_ports", f"hostPort {port['hostPort']}"))
    if own.get("procMount") not in (None, "Default"):
        found.append(("proc_mount", f"procMount {own['procMount']}"))
    if not windows and own.get("allowPrivilegeEscalation") is not False:
        found.append(("privilege_escalation", "allowPrivilegeEscalation is not false"))
    if own.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
        found.append(("run_as_non_root", "runAsNonRoot is not true"))
    if own.get("runAsUser") == 0:
        found.append(("run_as_non_root_user", "runAsUser 0"))
    seccomp = field(own, "seccompProfile", "type") or field(pod_context, "seccompProfile", "type")
    if not windows and seccomp not in CONFINED:
        found.append(("seccomp", "seccompProfile is not RuntimeDefault or Localhost"))
    if not windows:
        found += _capabilities(mapping(own, "capabilities"))
    found += _confinement(own)
    return found


def _capabilities(capabilities: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    for added in capabilities.get("add") or []:
        if added != "NET_BIND_SERVICE":
            found.append(("capabilities", f"adds capability {added} (only NET_BIND_SERVICE is allowed)"))
    if "ALL" not in (capabilities.get("drop") or []):
        found.append(("capabilities", "capabilities do not drop ALL"))
    return found


def _confinement(context: Mapping[str, Any]) -> list[Finding]:
    """AppArmor and SELinux options of one securityContext (pod's or container's)."""
    found: list[Finding] = []
    apparmor = field(context, "appArmorProfile", "type")
    if apparmor is not None and apparmor not in CONFINED:
        found.append(("apparmor", f"appArmorProfile {apparmor}"))
    selinux = mapping(context, "seLinuxOptions")
    if selinux.get("type", "") not in SELINUX_TYPES:
        found.append(("selinux", f"seLinuxOptions type {selinux['type']}"))
    for key in ("user", "role"):
        if selinux.get(key):
            found.append(("selinux", f"seLinuxOptions {key} set"))
    return found


def _apparmor_annotation_ok(value: str) -> bool:
    return value == "runtime/default" or value.startswith("localhost/")
