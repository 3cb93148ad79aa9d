"""The deploy-gate manifests (manifests/integrations/): the Argo CD PreSync Job is valid
Kubernetes and runs a `golive gate` this golive accepts; the Argo Rollouts
AnalysisTemplate has the fields Argo reads, pointing at the verdict API and judging the verdict's `go`.

No schema of Argo's CRDs is packaged where the tests could take it from, so the
AnalysisTemplate is checked field by field, as the Rollouts controller reads it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped,import-not-found,unused-ignore]
import pytest
import typer
import yaml

from golive.bot.cli import app
from golive.checks.durations import parse_duration

from .dockerfile_model import ROOT, parse
from .kustomize import MANIFESTS

INTEGRATIONS = MANIFESTS / "integrations"
SCHEMA_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def _one(path: Path) -> dict[str, Any]:
    (document,) = list(yaml.safe_load_all(path.read_text()))
    assert isinstance(document, dict)
    return document


def _service_url() -> str:
    service = yaml.safe_load((MANIFESTS / "base" / "service.yaml").read_text())
    (port,) = service["spec"]["ports"]
    return f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:{port['port']}"


@pytest.fixture
def job() -> dict[str, Any]:
    return _one(INTEGRATIONS / "argocd-presync-gate.yaml")


@pytest.fixture
def template() -> dict[str, Any]:
    return _one(INTEGRATIONS / "analysis-template.yaml")


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_the_presync_job_is_valid_kubernetes(job: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(job, version, strict=True)


def test_the_presync_job_is_an_argo_cd_hook_running_golive_gate(job: dict[str, Any]) -> None:
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert "HookSucceeded" in annotations["argocd.argoproj.io/hook-delete-policy"].split(",")
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    args = container["args"]
    # The arguments parse with this golive's own command line.
    group = typer.main.get_group(app)
    assert args[0] == "gate"
    command = group.get_command(group.make_context("golive", ["--help"], resilient_parsing=True), "gate")
    assert command is not None
    parsed = command.make_context("gate", list(args[1:])).params
    assert parsed["url"] == _service_url()
    options = dict(zip(args[1::2], args[2::2], strict=True))
    assert options["--url"] == _service_url()
    timeout = parse_duration(options["--timeout"])
    parse_duration(options["--require-run-newer-than"])
    # Kubernetes must not end the Job before the gate gives up on its own.
    assert job["spec"]["activeDeadlineSeconds"] > timeout.total_seconds()
    assert job["spec"]["backoffLimit"] == 0
    env = {e["name"]: e for e in container["env"]}
    assert env["GOLIVE_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "golive-api-token",
        "key": "token",
    }


def test_the_presync_job_runs_this_image_locked_down(job: dict[str, Any]) -> None:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    with (ROOT / "pyproject.toml").open("rb") as file:
        version = tomllib.load(file)["project"]["version"]
    assert container["image"].rpartition(":")[2] == version
    user = parse().final.last("USER")
    assert user is not None
    uid, _, gid = user.value[0].partition(":")
    context = container["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}


def test_the_analysis_template_asks_the_verdict_api_for_go(template: dict[str, Any]) -> None:
    assert (template["apiVersion"], template["kind"]) == ("argoproj.io/v1alpha1", "AnalysisTemplate")
    spec = template["spec"]
    args = {a["name"]: a for a in spec["args"]}
    (metric,) = spec["metrics"]
    web = metric["provider"]["web"]
    used = set(re.findall(r"\{\{args\.([\w-]+)\}\}", yaml.safe_dump(metric)))
    assert used and used <= set(args), "every {{args.…}} is declared"
    url = web["url"].replace("{{args.golive-url}}", args["golive-url"]["value"])
    assert url == _service_url() + "/api/v1/verdict"
    assert urlsplit(url).path == "/api/v1/verdict"
    (auth,) = web["headers"]
    assert auth == {"key": "Authorization", "value": "Bearer {{args.golive-token}}"}
    assert args["golive-token"]["valueFrom"]["secretKeyRef"] == {"name": "golive-api-token", "key": "token"}
    # `{$.verdict.go}` is the verdict document's boolean; the condition compares it as one.
    assert web["jsonPath"] == "{$.verdict.go}"
    schema = yaml.safe_load((ROOT / "schema" / "state.schema.json").read_text())
    assert schema["properties"]["verdict"]["properties"]["go"] == {"type": "boolean"}
    assert metric["successCondition"] == "result == true"
    assert "failureCondition" not in metric, "NO-GO means wait, not fail"
    assert metric["failureLimit"] >= metric["count"]
    assert parse_duration(metric["interval"]).total_seconds() >= 10
    assert set(metric["provider"]) == {"web"}
