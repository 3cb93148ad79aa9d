"""``kube_pod_security`` and ``kube_secret_refs`` against the fake API server."""

from __future__ import annotations

import json

from golive.checks.secret_names import is_secret_env_name as looks_secret
from golive.checks.status import Status

from .support import Kube, run_one


async def test_compliant_pods(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_pod_security", "healthy", namespace="valeo"))
    assert result.status == Status.PASS, result.message
    assert result.observed["PODS"] == 10
    assert result.observed["VIOLATIONS"] == []


async def test_privileged_root_and_missing_limits_are_named_once_per_workload(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_pod_security", "broken", namespace="valeo"))
    assert result.status == Status.FAIL
    assert result.observed["VIOLATIONS"] == [
        "daemonset/log-agent container agent: allowPrivilegeEscalation not false",
        "daemonset/log-agent container agent: privileged",
        "daemonset/log-agent: hostNetwork",
        "deployment/web container web: no cpu/memory limit",
        # Both worker pods run as root: one finding, named after their Deployment.
        "deployment/worker container worker: runs as root (runAsUser 0)",
    ]
    assert result.observed["BY_RULE"] == {
        "no_privilege_escalation": 1,
        "not_privileged": 1,
        "no_host_namespaces": 1,
        "limits": 1,
        "run_as_non_root": 1,
    }


async def test_rules_and_limits_can_be_narrowed(kube: Kube) -> None:
    privileged = await run_one(
        kube.probe("kube_pod_security", "broken", namespace="valeo", rules=["not_privileged"])
    )
    assert privileged.observed["VIOLATIONS"] == ["daemonset/log-agent container agent: privileged"]
    limits = await run_one(
        kube.probe(
            "kube_pod_security",
            "broken",
            namespace="valeo",
            rules=["limits"],
            require_limits=["memory"],
            exclude_containers=["web"],
        )
    )
    assert limits.status == Status.PASS, limits.message


async def test_secrets_by_reference(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_secret_refs", "healthy", namespace="valeo"))
    assert result.status == Status.PASS, result.message
    # Four api pods with a secretKeyRef and an envFrom secretRef each, two db pods with one;
    # DB_PASSWORD_FOR_URL is "$(DB_PASSWORD)", a reference, not a literal.
    assert result.observed["SECRET_REFERENCES"] == 10
    assert result.observed["SECRET_LITERALS"] == []


async def test_literal_secrets_are_named_never_shown(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_secret_refs", "broken", namespace="valeo"))
    assert result.status == Status.FAIL
    assert result.observed["SECRET_LITERALS"] == [
        "deployment/worker container worker: env DATABASE_URL (URL with a password)",
        "deployment/worker container worker: env DB_PASSWORD",
        "deployment/worker container worker: env PUBLIC_KEY",
    ]
    everything = json.dumps([result.message, dict(result.observed)])
    assert "hunter2" not in everything
    assert "s3cr3t-pw" not in everything


async def test_allow_list_for_names_that_only_look_secret(kube: Kube) -> None:
    result = await run_one(
        kube.probe("kube_secret_refs", "broken", namespace="valeo", allow=["PUBLIC_KEY"])
    )
    assert "deployment/worker container worker: env PUBLIC_KEY" not in result.observed["SECRET_LITERALS"]
    assert len(result.observed["SECRET_LITERALS"]) == 2


def test_secret_looking_names() -> None:
    assert all(
        looks_secret(n)
        for n in ("DB_PASSWORD", "apiToken", "AWS_SECRET_ACCESS_KEY", "DBPASSWORD", "x-api-key")
    )
    assert not any(looks_secret(n) for n in ("MONKEY_MODE", "KEYCLOAK_URL", "LOG_LEVEL", "PASSENGER_COUNT"))


async def test_the_restricted_pod_security_standard_in_full(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_pod_security", "subtle", namespace="pss", profile="restricted"))
    assert result.status == Status.FAIL
    observed = result.observed
    assert observed["PODS"] == 2
    # portal passes restricted although its root filesystem is writable; each finding
    # names the pod and container, ephemeral containers included.
    assert observed["VIOLATIONS"] == [
        "pod pss/legacy-0 container app: adds capability SYS_TIME (only NET_BIND_SERVICE is allowed)",
        "pod pss/legacy-0 container app: capabilities do not drop ALL",
        "pod pss/legacy-0 container app: hostPort 8080",
        "pod pss/legacy-0 container app: procMount Unmasked",
        "pod pss/legacy-0 container app: runAsNonRoot is not true",
        "pod pss/legacy-0 container app: seccompProfile is not RuntimeDefault or Localhost",
        "pod pss/legacy-0 container ephemeral:debugger: allowPrivilegeEscalation is not false",
        "pod pss/legacy-0 container ephemeral:debugger: capabilities do not drop ALL",
        "pod pss/legacy-0 container ephemeral:debugger: runAsNonRoot is not true",
        "pod pss/legacy-0 container ephemeral:debugger: seccompProfile is not RuntimeDefault or Localhost",
        "pod pss/legacy-0 container init:tune: privileged",
        "pod pss/legacy-0: sysctl net.core.somaxconn is not a safe sysctl",
        "pod pss/legacy-0: volume host-logs is hostPath",
    ]
    assert observed["PROFILE"] == "restricted"
    assert observed["BY_RULE"]["capabilities"] == 3


async def test_the_default_profile_is_the_narrower_rule_set(kube: Kube) -> None:
    result = await run_one(
        kube.probe("kube_pod_security", "subtle", namespace="pss", rules=["run_as_non_root"])
    )
    assert result.observed["PROFILE"] == "custom"
    # runAsUser 1000 is not root, which is all the custom rule asks.
    assert result.observed["VIOLATIONS"] == []
