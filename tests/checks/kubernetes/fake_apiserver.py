"""A fake Kubernetes API server on 127.0.0.1, speaking the wire format the official client reads.

No real API server can run here, so this one serves clusters described in YAML
(``clusters/*.yaml``) the way kube-apiserver answers:

- ``GET /api/v1/...`` and ``/apis/<group>/<version>/...``: one object, a namespaced list,
  a cluster-scoped list, or a list across all namespaces;
- lists are ``{"apiVersion", "kind": "<Kind>List", "metadata": {"resourceVersion",
  "continue"?}, "items"}``, sorted by namespace and name; items of built-in kinds carry no
  ``kind``/``apiVersion`` (as kube-apiserver sends them), custom resources do;
- ``labelSelector`` (``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``, ``a``,
  ``!a``), ``fieldSelector`` (``=``, ``==``, ``!=`` on the fields the real server supports
  for that resource; others are 400), ``limit`` and ``continue``;
- errors are ``Status`` objects: 401 without the bearer token, 403 in namespaces the
  cluster forbids, 404 for missing objects and for APIs the cluster does not serve
  (a CRD that is not installed), 400 for selectors it cannot parse;
- every object, from a fixture or a create, gets the defaults kube-apiserver fills in
  (api_defaults.py), so no fixture can describe an object a real cluster would not return;
- writes for Leases only (``coordination.k8s.io/v1``, the one object golive writes):
  ``POST`` creates (409 ``AlreadyExists`` when the name is taken), ``PUT`` replaces
  (409 ``Conflict`` when the body's ``metadata.resourceVersion`` is stale, 404 when the
  object is gone), each write under one lock and with the next ``resourceVersion``;
  the spec is validated as kube-apiserver decodes and validates it (400, 422).
  Other writes are refused (405).

Each cluster lives under ``/clusters/<name>``, the way Rancher proxies clusters, so one
server serves them all. The cluster ``hang`` accepts requests and never answers; the
server counts the connections clients give up on. A
``HelmRelease`` entry in a fixture becomes the Secret (or ConfigMap) Helm's storage
driver writes: JSON, gzip, Helm's base64, and the API's base64 of Secret data.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import re
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from .api_defaults import apply_defaults

TOKEN = "kube-test-token-5d1c9e"
PROBE_USER = "system:serviceaccount:golive:golive-probe"

#: kind → (group, version, plural, namespaced)
KINDS: dict[str, tuple[str, str, str, bool]] = {
    "Namespace": ("", "v1", "namespaces", False),
    "Node": ("", "v1", "nodes", False),
    "Pod": ("", "v1", "pods", True),
    "Service": ("", "v1", "services", True),
    "Secret": ("", "v1", "secrets", True),
    "ConfigMap": ("", "v1", "configmaps", True),
    "PersistentVolumeClaim": ("", "v1", "persistentvolumeclaims", True),
    "Deployment": ("apps", "v1", "deployments", True),
    "StatefulSet": ("apps", "v1", "statefulsets", True),
    "DaemonSet": ("apps", "v1", "daemonsets", True),
    "EndpointSlice": ("discovery.k8s.io", "v1", "endpointslices", True),
    "Ingress": ("networking.k8s.io", "v1", "ingresses", True),
    "NetworkPolicy": ("networking.k8s.io", "v1", "networkpolicies", True),
    "HorizontalPodAutoscaler": ("autoscaling", "v2", "horizontalpodautoscalers", True),
    "StorageClass": ("storage.k8s.io", "v1", "storageclasses", False),
    "CronJob": ("batch", "v1", "cronjobs", True),
    "Backup": ("velero.io", "v1", "backups", True),
    "Restore": ("velero.io", "v1", "restores", True),
    "Schedule": ("velero.io", "v1", "schedules", True),
    "BackupStorageLocation": ("velero.io", "v1", "backupstoragelocations", True),
    "Lease": ("coordination.k8s.io", "v1", "leases", True),
    "AdminNetworkPolicy": ("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies", False),
    "BaselineAdminNetworkPolicy": (
        "policy.networking.k8s.io",
        "v1alpha1",
        "baselineadminnetworkpolicies",
        False,
    ),
    "GlobalNetworkPolicy": ("crd.projectcalico.org", "v1", "globalnetworkpolicies", False),
    "CiliumClusterwideNetworkPolicy": ("cilium.io", "v2", "ciliumclusterwidenetworkpolicies", False),
    "Event": ("", "v1", "events", True),
}
#: (group, plural) the server accepts writes for.
WRITABLE = frozenset({("coordination.k8s.io", "leases")})
#: metav1.MicroTime as kube-apiserver decodes it (Go's RFC3339Micro).
_MICRO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$")
#: Groups served only when a cluster declares them under ``crds``.
CRD_GROUPS = frozenset({"velero.io", "policy.networking.k8s.io", "crd.projectcalico.org", "cilium.io"})
#: Field selectors kube-apiserver accepts beyond metadata.name / metadata.namespace.
FIELDS = {
    "pods": {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
    "secrets": {"type"},
    "nodes": {"spec.unschedulable"},
    "events": {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "reason",
        "reportingComponent",
        "source",
        "type",
    },
}
#: Field selector names that are not the object's own path (kube-apiserver's field sets).
FIELD_PATHS = {"events": {"source": "source.component"}}
_LABEL_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_SET = re.compile(rf"^({_LABEL_KEY})\s+(in|notin)\s+\(([^)]*)\)$")
_EQUALITY = re.compile(rf"^({_LABEL_KEY})\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)$")
_EXISTS = re.compile(rf"^(!?)\s*({_LABEL_KEY})$")
_FIELD = re.compile(r"^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$")


@dataclass
class Cluster:
    name: str
    objects: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    forbidden_namespaces: frozenset[str] = frozenset()
    crds: frozenset[str] = frozenset()

    def serves(self, group: str, version: str, plural: str) -> bool:
        known = any(g == group and v == version and p == plural for g, v, p, _ in KINDS.values())
        return known and (group not in CRD_GROUPS or group in self.crds)


@dataclass(frozen=True)
class Call:
    """One request as RBAC sees it."""

    verb: str  # get | list | create | update
    group: str
    version: str
    resource: str
    namespace: str | None  # None: cluster-scoped or across all namespaces
    label_selector: str | None = None
    field_selector: str | None = None
    #: The object's name for get and update (RBAC's resourceNames); None for list, create.
    name: str | None = None


def helm_storage_object(entry: dict[str, Any]) -> dict[str, Any]:
    """The object Helm's storage driver writes for one release revision (helm
    pkg/storage/driver/secrets.go, configmaps.go, util.go encodeRelease)."""
    release = entry["release"]
    payload = json.dumps(release).encode()
    if entry.get("gzip", True):  # Helm 2-era and very old Helm 3 releases were not compressed
        payload = gzip.compress(payload, compresslevel=9)
    helm_text = base64.b64encode(payload).decode()
    labels = {
        "name": release["name"],
        "owner": "helm",
        "status": release["info"]["status"],
        "version": str(release["version"]),
    }
    metadata = {
        "name": f"sh.helm.release.v1.{release['name']}.v{release['version']}",
        "namespace": release["namespace"],
        "labels": labels,
    }
    if entry.get("driver", "secret") == "configmap":
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"release": helm_text}}
    # Secret data is bytes; the API's JSON carries them base64-encoded once more.
    wire = base64.b64encode(helm_text.encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "helm.sh/release.v1",
        "data": {"release": wire},
    }


def load_cluster(path: Path) -> Cluster:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cluster = Cluster(
        name=path.stem,
        forbidden_namespaces=frozenset(document.get("forbidden_namespaces") or []),
        crds=frozenset(document.get("crds") or []),
    )
    for index, raw in enumerate(document.get("objects") or []):
        obj = helm_storage_object(raw) if raw.get("kind") == "HelmRelease" else apply_defaults(raw)
        group, _, plural, namespaced = KINDS[obj["kind"]]
        metadata = obj.setdefault("metadata", {})
        if namespaced:
            metadata.setdefault("namespace", "default")
        key = f"{cluster.name}/{obj['kind']}/{metadata.get('namespace', '')}/{metadata['name']}"
        metadata.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, key)))
        metadata.setdefault("resourceVersion", str(1000 + index))
        metadata.setdefault("creationTimestamp", "2025-05-01T08:00:00Z")
        cluster.objects.setdefault((group, plural), []).append(obj)
    return cluster


def load_clusters(directory: Path) -> dict[str, Cluster]:
    return {path.stem: load_cluster(path) for path in sorted(directory.glob("*.yaml"))}


def label_matcher(text: str) -> Callable[[dict[str, str]], bool]:
    """k8s.io/apimachinery labels.Parse for the operators clients send."""
    requirements: list[tuple[str, str, frozenset[str]]] = []  # (key, operator, values)
    for requirement in _split_requirements(text):
        if match := _SET.match(requirement):
            values = frozenset(v.strip() for v in match.group(3).split(",") if v.strip())
            requirements.append((match.group(1), match.group(2), values))
        elif match := _EQUALITY.match(requirement):
            key, operator, value = match.groups()
            requirements.append((key, "!=" if operator == "!=" else "=", frozenset({value})))
        elif match := _EXISTS.match(requirement):
            requirements.append((match.group(2), "!" if match.group(1) else "exists", frozenset()))
        else:
            raise ValueError(f"unable to parse requirement: {requirement!r}")

    def matches(labels: dict[str, str]) -> bool:
        for key, operator, values in requirements:
            present, value = key in labels, labels.get(key)
            if operator in ("=", "in") and value not in values:
                return False
            if operator in ("!=", "notin") and value in values:
                return False
            if (operator == "exists" and not present) or (operator == "!" and present):
                return False
        return True

    return matches


def _split_requirements(text: str) -> list[str]:
    parts, current, depth = [], "", 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def field_matcher(text: str, plural: str) -> Callable[[dict[str, Any]], bool]:
    requirements: list[tuple[str, bool, str]] = []  # (path, equal, value)
    allowed = {"metadata.name", "metadata.namespace"} | FIELDS.get(plural, set())
    for requirement in text.split(","):
        match = _FIELD.match(requirement.strip())
        if not match:
            raise ValueError(f"invalid field selector: {requirement!r}")
        path, operator, value = match.groups()
        if path not in allowed:
            raise ValueError(f'field label not supported: "{path}"')
        requirements.append((FIELD_PATHS.get(plural, {}).get(path, path), operator != "!=", value))
    return lambda obj: all((_field_text(obj, path) == value) == equal for path, equal, value in requirements)


def _field_text(obj: dict[str, Any], path: str) -> str:
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    if isinstance(current, bool):
        return "true" if current else "false"
    return "" if current is None else str(current)


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


class Handler(BaseHTTPRequestHandler):
    server: FakeApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    #: Headers and body go out as separate writes: without this, Nagle's algorithm holds
    #: the body until the client's delayed ACK, 40 ms a request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def do_GET(self) -> None:
        self._respond()

    def do_POST(self) -> None:
        self._respond()

    def do_PUT(self) -> None:
        self._respond()

    def do_DELETE(self) -> None:
        self._refuse()

    def _respond(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            # Read the whole body first: the connection is kept alive for the next request.
            self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            code, body = self._answer()
            if code == 0:
                return
            content = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

    def _refuse(self) -> None:
        content = json.dumps(status(405, "MethodNotAllowed", "the fake API server is read-only")).encode()
        self.send_response(405)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def _answer(self) -> tuple[int, Any]:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = [p for p in url.path.split("/") if p]
        if len(parts) < 3 or parts[0] != "clusters":
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        if parts[1] == "hang":
            self._hang()
            return 0, None
        cluster = self.server.clusters.get(parts[1])
        if cluster is None:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, status(401, "Unauthorized", "Unauthorized")
        return self._resource(cluster, parts[2:], query)

    def _hang(self) -> None:
        """Never answer; note when the client gives up and closes the connection."""
        self.close_connection = True
        self.connection.settimeout(0.05)
        while not self.server.stop.is_set():
            try:
                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                    self.server.hung_up()
                    return
            except TimeoutError:
                continue
            except OSError:
                self.server.hung_up()
                return

    def _resource(self, cluster: Cluster, parts: list[str], query: dict[str, str]) -> tuple[int, Any]:
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if len(rest) not in (1, 2) or not cluster.serves(group, version, rest[0]):
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        plural, name = rest[0], (rest[1] if len(rest) == 2 else None)
        verb = _verb(self.command, name)
        if verb is None or (verb in ("create", "update") and (group, plural) not in WRITABLE):
            message = f"{self.command} is not supported here; the fake API server writes Leases only"
            return 405, status(405, "MethodNotAllowed", message)
        self.server.record(
            Call(
                verb,
                group,
                version,
                plural,
                namespace,
                query.get("labelSelector"),
                query.get("fieldSelector"),
                name if verb in ("get", "update") else None,
            )
        )
        described = f"{plural}.{group}" if group else plural
        if namespace in cluster.forbidden_namespaces:
            message = (
                f'{described} is forbidden: User "{PROBE_USER}" cannot {verb} resource "{plural}" '
                f'in API group "{group}" in the namespace "{namespace}"'
            )
            return 403, status(403, "Forbidden", message, {"kind": plural, "group": group})
        if verb in ("create", "update"):
            assert namespace is not None, "Leases are namespaced"
            writes = Writes(self.server, cluster, group, version, plural, namespace)
            return writes.create(self.body) if name is None else writes.update(name, self.body)
        stored = cluster.objects.get((group, plural), [])
        if name is not None:
            return self._get(stored, group, plural, namespace, name, described)
        return self._list(stored, group, version, plural, namespace, query)

    def _get(
        self,
        stored: list[dict[str, Any]],
        group: str,
        plural: str,
        namespace: str | None,
        name: str,
        described: str,
    ) -> tuple[int, Any]:
        found = next(
            (
                o
                for o in stored
                if o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
            ),
            None,
        )
        # Read first, then wait for the fellow readers: they all answer the same version.
        self.server.wait_for_fellow_readers()
        if found is not None:
            return 200, found
        details = {"name": name, "group": group, "kind": plural}
        return 404, status(404, "NotFound", f'{described} "{name}" not found', details)

    def _list(
        self,
        stored: list[dict[str, Any]],
        group: str,
        version: str,
        plural: str,
        namespace: str | None,
        query: dict[str, str],
    ) -> tuple[int, Any]:
        try:
            labels_match = label_matcher(query.get("labelSelector", ""))
            fields_match = (
                field_matcher(query["fieldSelector"], plural) if query.get("fieldSelector") else None
            )
        except ValueError as exc:
            return 400, status(400, "BadRequest", str(exc))
        chosen = [
            obj
            for obj in stored
            if (namespace is None or obj["metadata"].get("namespace") == namespace)
            and labels_match(obj["metadata"].get("labels") or {})
            and (fields_match is None or fields_match(obj))
        ]
        chosen.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        start = int(json.loads(base64.b64decode(query["continue"]))["start"]) if query.get("continue") else 0
        limit = int(query.get("limit") or 0) or len(chosen) or 1
        page, rest = chosen[start : start + limit], chosen[start + limit :]
        metadata: dict[str, Any] = {"resourceVersion": "4242"}
        if rest:
            metadata["continue"] = base64.b64encode(json.dumps({"start": start + limit}).encode()).decode()
            metadata["remainingItemCount"] = len(rest)
        kind = next(k for k, (g, _, p, _) in KINDS.items() if g == group and p == plural)
        builtin = group not in CRD_GROUPS
        items = [
            {k: v for k, v in o.items() if k not in ("kind", "apiVersion")} if builtin else o for o in page
        ]
        api_version = f"{group}/{version}" if group else version
        return 200, {"apiVersion": api_version, "kind": f"{kind}List", "metadata": metadata, "items": items}


def _verb(method: str, name: str | None) -> str | None:
    """The RBAC verb of a request, or None for a method the server does not take there."""
    verbs = {("GET", True): "get", ("GET", False): "list", ("POST", False): "create", ("PUT", True): "update"}
    return verbs.get((method, name is not None))


@dataclass
class Writes:
    """Creates and replaces of one resource in one namespace, as kube-apiserver does them."""

    server: FakeApiServer
    cluster: Cluster
    group: str
    version: str
    plural: str
    namespace: str

    @property
    def described(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def kind(self) -> str:
        return next(k for k, (g, _, p, _) in KINDS.items() if g == self.group and p == self.plural)

    def create(self, raw: bytes) -> tuple[int, Any]:
        obj = self._decode(raw)
        if isinstance(obj, tuple):
            return obj
        metadata = obj["metadata"]
        name = metadata.get("name")
        if metadata.get("namespace", self.namespace) != self.namespace:
            message = "the namespace of the provided object does not match the namespace sent on the request"
            return 400, status(400, "BadRequest", message)
        if not name:
            return self._invalid(
                "<unknown>", "metadata.name: Required value: name or generateName is required"
            )
        with self.server.writes:
            stored = self.cluster.objects.setdefault((self.group, self.plural), [])
            if self._find(stored, name) is not None:
                details = {"name": name, "group": self.group, "kind": self.plural}
                message = f'{self.described} "{name}" already exists'
                return 409, status(409, "AlreadyExists", message, details)
            created = self._stored_form(
                apply_defaults({**obj, "kind": self.kind}), uid=str(uuid.uuid4()), created=_now_timestamp()
            )
            stored.append(created)
        return 201, created

    def update(self, name: str, raw: bytes) -> tuple[int, Any]:
        obj = self._decode(raw)
        if isinstance(obj, tuple):
            return obj
        metadata = obj["metadata"]
        if metadata.get("name") != name:
            message = (
                f"the name of the object ({metadata.get('name')}) does not match the name on the URL ({name})"
            )
            return 400, status(400, "BadRequest", message)
        details = {"name": name, "group": self.group, "kind": self.plural}
        with self.server.writes:
            stored = self.cluster.objects.setdefault((self.group, self.plural), [])
            index = self._find(stored, name)
            if index is None:
                return 404, status(404, "NotFound", f'{self.described} "{name}" not found', details)
            current = stored[index]["metadata"]
            expected = metadata.get("resourceVersion")
            # Leases allow an unconditional update: without a resourceVersion, the last write wins.
            if expected and expected != current["resourceVersion"]:
                message = (
                    f'Operation cannot be fulfilled on {self.described} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again"
                )
                return 409, status(409, "Conflict", message, details)
            replaced = self._stored_form(obj, uid=current["uid"], created=current["creationTimestamp"])
            stored[index] = replaced
        return 200, replaced

    def _decode(self, raw: bytes) -> dict[str, Any] | tuple[int, Any]:
        """The body as an object, or the answer kube-apiserver gives when it cannot decode
        or validate it."""
        try:
            obj = json.loads(raw)
        except ValueError:
            return 400, status(400, "BadRequest", "the body of the request is not JSON")
        if not isinstance(obj, dict) or not isinstance(obj.setdefault("metadata", {}), dict):
            return 400, status(400, "BadRequest", "the body of the request is not an object")
        problem = lease_spec_problem(obj.get("spec"))
        if problem is None:
            return obj
        code, reason = problem
        if code == 400:
            return 400, status(400, "BadRequest", reason)
        return self._invalid(str(obj["metadata"].get("name") or "<unknown>"), reason)

    def _invalid(self, name: str, reason: str) -> tuple[int, Any]:
        message = f'{self.kind}.{self.group} "{name}" is invalid: {reason}'
        return 422, status(422, "Invalid", message, {"name": name, "group": self.group, "kind": self.kind})

    def _find(self, stored: list[dict[str, Any]], name: str) -> int | None:
        for index, obj in enumerate(stored):
            if obj["metadata"]["name"] == name and obj["metadata"].get("namespace") == self.namespace:
                return index
        return None

    def _stored_form(self, obj: dict[str, Any], *, uid: str, created: str) -> dict[str, Any]:
        """The object as stored and sent back: server-set metadata, the next resourceVersion."""
        metadata = {
            **obj["metadata"],
            "namespace": self.namespace,
            "uid": uid,
            "creationTimestamp": created,
            "resourceVersion": self.server.next_resource_version(),
        }
        return {**obj, "apiVersion": f"{self.group}/{self.version}", "kind": self.kind, "metadata": metadata}


def lease_spec_problem(spec: Any) -> tuple[int, str] | None:
    """(400, why) when kube-apiserver could not decode a LeaseSpec, (422, why) when it
    decodes but fails validation, None when it is a valid one."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        return 400, "spec: expected an object"
    types = {
        "holderIdentity": str,
        "leaseDurationSeconds": int,
        "leaseTransitions": int,
        "acquireTime": str,
        "renewTime": str,
    }
    for key, expected in types.items():
        value = spec.get(key)
        if value is not None and (not isinstance(value, expected) or isinstance(value, bool)):
            return (
                400,
                f"json: cannot unmarshal {type(value).__name__} into Go struct field LeaseSpec.spec.{key}",
            )
    for key in ("acquireTime", "renewTime"):
        if spec.get(key) is not None and not _MICRO_TIME.match(spec[key]):
            return 400, f'spec.{key}: parsing time "{spec[key]}" as RFC 3339 with microseconds'
    duration, transitions = spec.get("leaseDurationSeconds"), spec.get("leaseTransitions")
    if duration is not None and duration <= 0:
        return 422, f"spec.leaseDurationSeconds: Invalid value: {duration}: must be greater than 0"
    if transitions is not None and transitions < 0:
        return 422, f"spec.leaseTransitions: Invalid value: {transitions}: must be greater than or equal to 0"
    return None


def _now_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, clusters: dict[str, Cluster], stop: threading.Event, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.clusters = clusters
        self.stop = stop
        self.tls = tls
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self._hangups = threading.Condition(self._lock)
        self._hangup_count = 0
        #: Writes check and store under this lock, as etcd's transactions make them atomic.
        self.writes = threading.Lock()
        self._resource_version = 5000
        self._held_reads = 0
        self._read_barrier: threading.Barrier | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # TLS per connection in the request's own thread: a client that rejects our
        # certificate mid-handshake must not block the accept loop.
        wrapped = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            wrapped.do_handshake()
            super().finish_request(wrapped, client_address)
        except OSError:
            pass
        finally:
            wrapped.close()

    def url(self, cluster: str) -> str:
        return f"{self.base_url}/clusters/{cluster}"

    def next_resource_version(self) -> str:
        """Grows with every write, across all objects (etcd's revision)."""
        with self._lock:
            self._resource_version += 1
            return str(self._resource_version)

    def hold_reads(self, count: int, then: Callable[[], None] | None = None) -> None:
        """The next ``count`` GETs of one object each wait until all of them have read it:
        that many clients are sure to hold the same version (a write race made certain).
        ``then`` runs once they all have, before any answer is sent: a change that lands
        between their read and their write."""
        with self._lock:
            self._held_reads = count
            self._read_barrier = threading.Barrier(count, action=then)

    def wait_for_fellow_readers(self) -> None:
        with self._lock:
            barrier = self._read_barrier if self._held_reads > 0 else None
            self._held_reads = max(0, self._held_reads - 1)
        if barrier is not None:
            barrier.wait(timeout=10)

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def hung_up(self) -> None:
        with self._hangups:
            self._hangup_count += 1
            self._hangups.notify_all()

    def hangups(self) -> int:
        with self._lock:
            return self._hangup_count

    def wait_for_hangups(self, count: int, timeout: float) -> bool:
        """Whether clients have closed ``count`` hung connections within ``timeout``."""
        with self._hangups:
            return self._hangups.wait_for(lambda: self._hangup_count >= count, timeout)


@contextlib.contextmanager
def serving(clusters: dict[str, Cluster]) -> Iterator[FakeApiServer]:
    """A fake API server for ``clusters``, serving in a thread until the block ends."""
    stop = threading.Event()
    server = FakeApiServer(clusters, stop)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
