"""The Kustomize overlays in manifests/, rendered by ``kubectl kustomize`` as an operator's
``kubectl apply -k`` would render them, and lookups over the rendered objects."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.services import require_service

from .dockerfile_model import ROOT

MANIFESTS = ROOT / "manifests"
OVERLAYS = ("single", "ha")

Obj = dict[str, Any]


def render(directory: Path) -> list[Obj]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        require_service("kubectl", "not on PATH; `kubectl kustomize` renders the manifests")
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=180, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{done.stderr}")
    return [document for document in yaml.safe_load_all(done.stdout) if document]


@dataclass(frozen=True)
class Rendered:
    """One overlay's objects."""

    overlay: str
    objects: list[Obj]

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Obj:
        found = [o for o in self.of_kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: expected one {kind} {name or ''}, found {len(found)}"
        obj: Obj = found[0]
        return obj

    def generated(self, kind: str, prefix: str) -> Obj:
        """A generated object, whose name kustomize suffixes with a content hash."""
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"].startswith(prefix + "-")]
        assert len(found) == 1, f"{self.overlay}: expected one generated {kind} {prefix}-…"
        obj: Obj = found[0]
        return obj

    @property
    def deployment(self) -> Obj:
        return self.one("Deployment", "golive")

    @property
    def pod(self) -> Obj:
        spec: Obj = self.deployment["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> Obj:
        (container,) = [c for c in self.pod["containers"] if c["name"] == "golive"]
        found: Obj = container
        return found

    def env(self) -> dict[str, str]:
        """The container's environment from its ConfigMaps and literal ``env`` values
        (Secret values are unknown; ``env`` wins over ``envFrom`` as in the kubelet)."""
        values: dict[str, str] = {}
        for source in self.container.get("envFrom", []):
            if "configMapRef" in source:
                values.update(self.one("ConfigMap", source["configMapRef"]["name"])["data"])
        values.update({e["name"]: e["value"] for e in self.container.get("env", []) if "value" in e})
        return values

    def secret_keys(self) -> Iterator[tuple[str, str]]:
        """(Secret name, key) of every secretKeyRef in the pod."""
        for container in self.pod["containers"]:
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    yield reference["name"], reference["key"]
