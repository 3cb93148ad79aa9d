"""The Kustomize overlays: valid Kubernetes objects, a locked-down pod, the shape each
overlay promises (replicas, storage, database, disruption budget), and agreement with the
image (user, port, volume) and with the bundled checklist."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped,import-not-found,unused-ignore]
import pytest
import yaml
from kubernetes.utils import parse_quantity

from golive.checks.loader import load

from .dockerfile_model import ROOT, parse
from .kustomize import MANIFESTS, Obj, Rendered

#: The oldest Kubernetes minor still in common support, and the newest schemas shipped.
SCHEMA_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
BUNDLED_CHECKLIST = ROOT / "checklists" / "valeo-neuroerp-1.1.0.yaml"
CHECKLIST_COPY = MANIFESTS / "base" / "checklist" / "valeo-neuroerp-1.1.0.yaml"
SECRET_TEMPLATE = MANIFESTS / "secret.example.yaml"
PLACEHOLDER = "REPLACE-ME"


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        version: str = tomllib.load(file)["project"]["version"]
    return version


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_openapi_schemas(
    rendered: Rendered, version: str
) -> None:
    problems = []
    for obj in rendered.objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            problems.append(f"{obj['kind']}/{obj['metadata']['name']} {where}: {exc.message}")
    assert not problems, "\n".join(problems)


def test_the_objects_each_overlay_deploys(rendered: Rendered) -> None:
    kinds = sorted({o["kind"] for o in rendered.objects})
    expected = {
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Namespace",
        "NetworkPolicy",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    }
    extra = {"single": {"PersistentVolumeClaim"}, "ha": {"PodDisruptionBudget"}}[rendered.overlay]
    assert kinds == sorted(expected | extra)
    # Real secret values never come from the repository.
    assert not rendered.of_kind("Secret")


def test_pod_is_locked_down(rendered: Rendered) -> None:
    pod, container = rendered.pod, rendered.container
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context.get("privileged", False) is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not {"hostNetwork", "hostPID", "hostIPC"} & {k for k, v in pod.items() if v is True}
    # golive's own kube_pod_security probe would pass it: runs as the image's user.
    image = parse()
    user = image.final.last("USER")
    assert user is not None
    uid, _, gid = user.value[0].partition(":")
    assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))
    assert pod["securityContext"]["fsGroup"] == int(gid), "the data volume is writable for the user"
    namespace = rendered.one("Namespace", rendered.deployment["metadata"]["namespace"])
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_writable_paths_are_volumes(rendered: Rendered) -> None:
    mounts = {m["mountPath"]: m for m in rendered.container["volumeMounts"]}
    volumes = {v["name"]: v for v in rendered.pod["volumes"]}
    (image_volume,) = parse().final.volumes()
    assert image_volume in mounts, "the image's VOLUME (database, charts, HOME, TMPDIR) is mounted"
    assert "/tmp" in mounts
    for path, mount in mounts.items():
        assert mount["name"] in volumes, path
    assert mounts["/etc/golive/checklist"].get("readOnly") is True


def test_resources_are_requested_and_limited(rendered: Rendered) -> None:
    resources = rendered.container["resources"]
    for name in ("cpu", "memory"):
        request = Decimal(parse_quantity(resources["requests"][name]))
        limit = Decimal(parse_quantity(resources["limits"][name]))
        assert 0 < request <= limit, (name, request, limit)


def test_probes_and_ports(rendered: Rendered) -> None:
    container = rendered.container
    (port,) = container["ports"]
    assert port == {"name": "http", "containerPort": 3000, "protocol": "TCP"}
    assert rendered.env()["PORT"] == str(port["containerPort"])
    (expose,) = parse().final.all("EXPOSE")
    assert expose.value == (str(port["containerPort"]),)
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["args"] == ["serve"]
    assert "command" not in container, "the image's ENTRYPOINT (golive) runs"


def test_image_is_pinned_to_the_project_version(rendered: Rendered) -> None:
    image = rendered.container["image"]
    name, _, tag = image.rpartition(":")
    assert name and tag == _version(), image
    assert rendered.container["imagePullPolicy"] == "IfNotPresent"


def test_service_exposes_the_http_port_of_the_pods(rendered: Rendered) -> None:
    service = rendered.one("Service", "golive")
    labels = rendered.deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["selector"] == rendered.deployment["spec"]["selector"]["matchLabels"]
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"


def test_network_policy_admits_only_the_http_port(rendered: Rendered) -> None:
    policy = rendered.one("NetworkPolicy", "golive")["spec"]
    labels = rendered.deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    for rule in policy["ingress"]:
        assert rule["ports"] == [{"protocol": "TCP", "port": "http"}], rule
    egress = {(p["protocol"], p["port"]) for rule in policy["egress"] for p in rule["ports"]}
    assert {("UDP", 53), ("TCP", 53), ("TCP", 443)} <= egress
    assert all(rule.get("ports") for rule in policy["egress"]), "no egress rule opens every port"
    if rendered.overlay == "ha":
        assert ("TCP", 5432) in egress, "replicas reach their PostgreSQL"


def test_checklist_comes_from_a_configmap_copy_of_the_bundled_one(rendered: Rendered) -> None:
    assert CHECKLIST_COPY.read_bytes() == BUNDLED_CHECKLIST.read_bytes(), (
        f"{CHECKLIST_COPY.relative_to(ROOT)} is stale: cp {BUNDLED_CHECKLIST.relative_to(ROOT)} "
        f"{CHECKLIST_COPY.relative_to(ROOT)}"
    )
    path = Path(rendered.env()["GOLIVE_CHECKLIST"])
    (mount,) = [m for m in rendered.container["volumeMounts"] if m["mountPath"] == str(path.parent)]
    (volume,) = [v for v in rendered.pod["volumes"] if v["name"] == mount["name"]]
    configmap = rendered.one("ConfigMap", volume["configMap"]["name"])
    assert configmap["metadata"]["name"].startswith("golive-checklist-"), "generated: a change rolls out"
    assert configmap["data"][path.name] == BUNDLED_CHECKLIST.read_text(encoding="utf-8")


def test_the_mounted_checklist_loads_with_the_deployed_settings(rendered: Rendered, tmp_path: Path) -> None:
    env = rendered.env()
    path = Path(env["GOLIVE_CHECKLIST"])
    (configmap,) = [c for c in rendered.of_kind("ConfigMap") if path.name in c.get("data", {})]
    copy = tmp_path / path.name
    copy.write_text(configmap["data"][path.name], encoding="utf-8")
    checklist = load(copy, env=env)
    namespaced = {getattr(item.config, "namespace", None) for item in checklist.items() if item.config}
    assert env["GOLIVE_NAMESPACE"] in namespaced


def test_settings_and_secrets_reach_the_container(rendered: Rendered) -> None:
    sources = rendered.container["envFrom"]
    assert {"secretRef": {"name": "golive-secrets"}} in sources
    (configmap,) = [s["configMapRef"]["name"] for s in sources if "configMapRef" in s]
    assert configmap.startswith("golive-env-")
    assert rendered.pod["enableServiceLinks"] is False, "no GOLIVE_PORT=tcp://… from the Service"
    assert rendered.pod["serviceAccountName"] == "golive"
    assert rendered.pod["automountServiceAccountToken"] is True, "the probes read the cluster in-cluster"


def test_single_runs_one_replica_on_sqlite_in_a_claim_with_socket_mode(overlays: dict[str, Rendered]) -> None:
    single = overlays["single"]
    spec = single.deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}, "one writer: the old pod stops first"
    env = single.env()
    (image_volume,) = parse().final.volumes()
    assert env["GOLIVE_DB_URL"] == f"sqlite:///{image_volume}/golive.db"
    (data,) = [m for m in single.container["volumeMounts"] if m["mountPath"] == image_volume]
    (volume,) = [v for v in single.pod["volumes"] if v["name"] == data["name"]]
    claim = single.one("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert ("golive-secrets", "SLACK_APP_TOKEN") in set(single.secret_keys()), "Socket Mode is required"
    assert not single.of_kind("PodDisruptionBudget"), "one replica: a PDB would only block drains"


def test_ha_runs_three_replicas_on_postgresql_with_a_disruption_budget(overlays: dict[str, Rendered]) -> None:
    ha = overlays["ha"]
    spec = ha.deployment["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert ("golive-secrets", "GOLIVE_DB_URL") in set(ha.secret_keys())
    assert "GOLIVE_DB_URL" not in ha.env(), "no literal database URL beside the Secret's"
    budget = ha.one("PodDisruptionBudget", "golive")["spec"]
    assert budget["minAvailable"] == 2
    assert budget["selector"]["matchLabels"] == spec["selector"]["matchLabels"]
    assert not ha.of_kind("PersistentVolumeClaim"), "replicas share PostgreSQL, not a volume"
    (spread,) = ha.pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"


def _referenced_files(kustomization: Path) -> set[Path]:
    """Every path a kustomization.yaml names (resources, patches, generator files, …)."""
    found: set[Path] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            name = value.split("=", 1)[-1]  # files: [key=path]
            found.add((kustomization.parent / name).resolve())

    walk(yaml.safe_load(kustomization.read_text(encoding="utf-8")))
    return found


def test_the_secret_template_is_a_template(overlays: dict[str, Rendered]) -> None:
    kustomizations = sorted(MANIFESTS.rglob("kustomization.yaml"))
    assert len(kustomizations) == 3
    for kustomization in kustomizations:
        assert SECRET_TEMPLATE.resolve() not in _referenced_files(kustomization), kustomization
    template: Obj = yaml.safe_load(SECRET_TEMPLATE.read_text(encoding="utf-8"))
    for version in SCHEMA_VERSIONS:
        kubernetes_validate.validate(template, version, strict=True)
    assert template["kind"] == "Secret" and "data" not in template
    values = template["stringData"]
    assert values and all(PLACEHOLDER in value for value in values.values()), "placeholders only"
    for overlay in overlays.values():
        names = {s["secretRef"]["name"] for s in overlay.container["envFrom"] if "secretRef" in s}
        assert names == {template["metadata"]["name"]}
        assert template["metadata"]["namespace"] == overlay.deployment["metadata"]["namespace"]
        for name, key in overlay.secret_keys():
            assert name == template["metadata"]["name"] and key in values, (overlay.overlay, key)
