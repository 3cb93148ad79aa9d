"""The one module that imports the official ``kubernetes`` client.

Probe modules get plain JSON objects from here, exactly as the API server sent them
(``_preload_content=False``): an ``omitempty`` field stays absent (``readyReplicas``
missing means 0, not a model default), and custom resources such as Velero's need no
model classes.

- Where the cluster is (:class:`KubeTarget`): ``server`` with ``token`` (a secret
  reference) and ``ca_file`` or ``insecure_skip_tls_verify``; else a kubeconfig
  (``kubeconfig``, or ``$KUBECONFIG`` / ``~/.kube/config``) and its ``context``; else,
  inside a pod, the pod's service account. With none of these the item is not
  configured (:class:`KubeNotConfigured`), like an item whose variable is unset.
- The client is synchronous. Every call runs in a worker thread with
  ``_request_timeout`` set to the item's timeout, and without urllib3's retries, so a
  hung API server holds the thread no longer than the runner waits for the item.
- Failures become :class:`ProbeError`: unreachable, timeouts, 410, 429 and 5xx are
  temporary; 401 (unauthorised), 403 (:class:`KubeForbidden`: forbidden by RBAC), 404
  (:class:`KubeNotFound`: the object or the API is not there), 409
  (:class:`KubeConflict`), TLS and kubeconfig problems are not.

Probes only read, through :class:`KubeClient`. The one object golive writes, the
leader-election Lease (golive/bot/leader_kube.py), goes through :class:`KubeObject`:
read, create and replace of one namespaced object by name, over the same connection
rules, timeouts and error mapping.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import durationpy  # type: ignore[import-untyped,unused-ignore]
from pydantic import Field, model_validator

from ..errors import NotConfigured, PermanentProbeError, ProbeError, TemporaryProbeError
from ..probe import ProbeConfig, ProbeContext
from ..secrets import SecretRef
from .http import connect_failure_reason, resolve_path


# The client is imported when a probe first connects, not with this module: importing
# it takes seconds and tens of MiB (its dynamic client loads jsonschema and its format
# checkers), which a command that only loads a checklist never needs. Older releases of
# the client have no type hints, newer ones leave these untyped: Any.
def _k8s() -> Any:
    from kubernetes import client  # type: ignore[import-untyped,unused-ignore]

    return client


def _k8s_config() -> Any:
    from kubernetes import config  # type: ignore[import-untyped,unused-ignore]

    return config


def _api_exception() -> type[Exception]:
    from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped,unused-ignore]

    exception: type[Exception] = ApiException
    return exception


#: kubectl lists in chunks of 500 too.
PAGE_SIZE = 500
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

Obj = dict[str, Any]


class KubeTarget(ProbeConfig):
    """The cluster and namespace a Kubernetes probe reads; every kube probe config has it."""

    #: Path to a kubeconfig (relative to the checklist); default $KUBECONFIG or ~/.kube/config.
    kubeconfig: str | None = None
    #: Kubeconfig context; default its current-context.
    context: str | None = None
    #: Default: the context's namespace, in a pod the pod's own, else "default".
    namespace: str | None = Field(default=None, pattern=_DNS_LABEL, max_length=63)
    #: API server URL, instead of a kubeconfig.
    server: str | None = None
    #: Bearer token for ``server``, by reference.
    token: SecretRef | None = None
    #: CA bundle (PEM) that signed the API server's certificate, for ``server``.
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False

    @classmethod
    def load_client(cls) -> None:
        _k8s()
        _k8s_config()

    @model_validator(mode="after")
    def _one_way_in(self) -> KubeTarget:
        if self.server is not None:
            if self.kubeconfig is not None or self.context is not None:
                raise ValueError("give either server (with token, ca_file) or kubeconfig/context, not both")
            url = urlsplit(self.server)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError("server must be an absolute https:// URL of the API server")
            if url.username or url.password:
                raise ValueError("credentials in the server URL are not allowed; use token: {env: VARIABLE}")
        elif self.token is not None or self.ca_file is not None or self.insecure_skip_tls_verify:
            raise ValueError(
                "token, ca_file and insecure_skip_tls_verify go with server; a kubeconfig carries its own"
            )
        if self.ca_file is not None and self.insecure_skip_tls_verify:
            raise ValueError("give ca_file or insecure_skip_tls_verify, not both")
        return self


@dataclass(frozen=True)
class Resource:
    """One API resource: ``Resource("apps", "v1", "deployments")``; group "" is core."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


PODS = Resource("", "v1", "pods")
SERVICES = Resource("", "v1", "services")
SECRETS = Resource("", "v1", "secrets")
CONFIGMAPS = Resource("", "v1", "configmaps")
PVCS = Resource("", "v1", "persistentvolumeclaims")
NODES = Resource("", "v1", "nodes", namespaced=False)
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False)
EVENTS = Resource("", "v1", "events")
DEPLOYMENTS = Resource("apps", "v1", "deployments")
STATEFULSETS = Resource("apps", "v1", "statefulsets")
DAEMONSETS = Resource("apps", "v1", "daemonsets")
ENDPOINTSLICES = Resource("discovery.k8s.io", "v1", "endpointslices")
INGRESSES = Resource("networking.k8s.io", "v1", "ingresses")
NETWORKPOLICIES = Resource("networking.k8s.io", "v1", "networkpolicies")
HPAS = Resource("autoscaling", "v2", "horizontalpodautoscalers")
STORAGECLASSES = Resource("storage.k8s.io", "v1", "storageclasses", namespaced=False)
CRONJOBS = Resource("batch", "v1", "cronjobs")
VELERO_BACKUPS = Resource("velero.io", "v1", "backups")
VELERO_RESTORES = Resource("velero.io", "v1", "restores")
VELERO_SCHEDULES = Resource("velero.io", "v1", "schedules")
VELERO_LOCATIONS = Resource("velero.io", "v1", "backupstoragelocations")
LEASES = Resource("coordination.k8s.io", "v1", "leases")
ADMIN_NETWORK_POLICIES = Resource("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies", False)
BASELINE_ADMIN_NETWORK_POLICIES = Resource(
    "policy.networking.k8s.io", "v1alpha1", "baselineadminnetworkpolicies", False
)
CALICO_GLOBAL_NETWORK_POLICIES = Resource("crd.projectcalico.org", "v1", "globalnetworkpolicies", False)
CILIUM_CLUSTERWIDE_POLICIES = Resource("cilium.io", "v2", "ciliumclusterwidenetworkpolicies", False)

#: Core resources have typed methods only (CustomObjectsApi cannot address group "");
#: every other group goes through CustomObjectsApi, which is the same REST path.
#: plural → (list in a namespace, list across namespaces / cluster-scoped, read one)
_CORE_METHODS = {
    "pods": ("list_namespaced_pod", "list_pod_for_all_namespaces", "read_namespaced_pod"),
    "services": ("list_namespaced_service", "list_service_for_all_namespaces", "read_namespaced_service"),
    "secrets": ("list_namespaced_secret", "list_secret_for_all_namespaces", "read_namespaced_secret"),
    "configmaps": (
        "list_namespaced_config_map",
        "list_config_map_for_all_namespaces",
        "read_namespaced_config_map",
    ),
    "persistentvolumeclaims": (
        "list_namespaced_persistent_volume_claim",
        "list_persistent_volume_claim_for_all_namespaces",
        "read_namespaced_persistent_volume_claim",
    ),
    "nodes": ("", "list_node", "read_node"),
    "namespaces": ("", "list_namespace", "read_namespace"),
    "events": ("list_namespaced_event", "list_event_for_all_namespaces", "read_namespaced_event"),
}


class KubeNotFound(PermanentProbeError):
    """404: the object, or the whole API (a CRD that is not installed), is not there."""


class KubeForbidden(PermanentProbeError):
    """403: RBAC does not allow the call; ``detail`` is the API server's reason, which
    names the account, verb, resource and namespace (never a credential)."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


class KubeNotConfigured(NotConfigured):
    """No way to the cluster: no kubeconfig file exists, and the bot is not in a pod."""

    def __init__(self) -> None:
        ProbeError.__init__(self, "not configured: set KUBECONFIG, or run in a cluster")
        self.variables = ("KUBECONFIG",)


class KubeConflict(PermanentProbeError):
    """409: a write lost a race. The object changed since it was read (a stale
    ``metadata.resourceVersion``), or another writer created it first."""


def quantity(value: Any, what: str) -> Decimal:
    """A Kubernetes quantity (``250m``, ``1.5Gi``, ``1e3``) as a Decimal, via the client's parser."""
    try:
        from kubernetes.utils import parse_quantity  # type: ignore[import-untyped,unused-ignore]

        parsed: Decimal = parse_quantity(value)
    except (ValueError, TypeError, InvalidOperation):
        raise PermanentProbeError(f"{what}: {value!r} is not a Kubernetes quantity") from None
    return parsed


def go_duration(text: str) -> timedelta:
    """A Go duration as Kubernetes serialises ``metav1.Duration`` (``720h0m0s``)."""
    try:
        parsed: timedelta = durationpy.from_str(text)
    except Exception:  # durationpy raises its own exception type
        raise ValueError(f"{text!r} is not a Go duration") from None
    return parsed


class KubeClient:
    """Async reads over the synchronous client; objects come back as JSON dicts."""

    def __init__(self, api: Any, namespace: str, where: str, timeout: float) -> None:
        self._api = api
        self._core = _k8s().CoreV1Api(api)
        self._custom = _k8s().CustomObjectsApi(api)
        self.namespace = namespace
        #: The API server (and context) for messages and evidence; no credentials.
        self.where = where
        self._timeout = timeout

    def source(self, namespace: str | None = None) -> str:
        return f"{self.where} namespace {namespace or self.namespace}"

    async def objects(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        all_namespaces: bool = False,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        """Every object, following ``continue`` across pages. Namespaced resources are
        listed in ``namespace`` (default: the target's) unless ``all_namespaces``."""
        scope = None if all_namespaces or not resource.namespaced else (namespace or self.namespace)
        selectors: dict[str, str] = {}
        if label_selector:
            selectors["label_selector"] = label_selector
        if field_selector:
            selectors["field_selector"] = field_selector
        return await asyncio.to_thread(self._list_all, resource, scope, selectors)

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Obj:
        scope = (namespace or self.namespace) if resource.namespaced else None
        what = f"get {resource} {_scoped(name, scope)}"
        if resource.group == "":
            method = getattr(self._core, _CORE_METHODS[resource.plural][2])
            args: tuple[Any, ...] = (name, scope) if scope else (name,)
        elif scope:
            method = self._custom.get_namespaced_custom_object
            args = (resource.group, resource.version, scope, resource.plural, name)
        else:
            method = self._custom.get_cluster_custom_object
            args = (resource.group, resource.version, resource.plural, name)
        return await asyncio.to_thread(self._call, what, method, args, {})

    def _list_all(self, resource: Resource, scope: str | None, selectors: dict[str, str]) -> list[Obj]:
        where = f"in namespace {scope}" if scope else ("in all namespaces" if resource.namespaced else "")
        what = " ".join(filter(None, [f"list {resource}", where, _describe_selectors(selectors)]))
        method, args = self._list_method(resource, scope)
        items: list[Obj] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": PAGE_SIZE, **selectors}
            if token:
                kwargs["_continue"] = token
            page = self._call(what, method, args, kwargs)
            items.extend(item for item in page.get("items") or [] if isinstance(item, dict))
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def _list_method(
        self, resource: Resource, scope: str | None
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        if resource.group == "":
            in_namespace, everywhere, _ = _CORE_METHODS[resource.plural]
            if scope:
                return getattr(self._core, in_namespace), (scope,)
            return getattr(self._core, everywhere), ()
        if scope:
            return self._custom.list_namespaced_custom_object, (
                resource.group,
                resource.version,
                scope,
                resource.plural,
            )
        # /apis/<group>/<version>/<plural>: cluster-scoped objects, or all namespaces.
        return self._custom.list_cluster_custom_object, (resource.group, resource.version, resource.plural)

    def _call(
        self, what: str, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Obj:
        import urllib3

        try:
            # A (connect, read) pair: client 30.x silently ignores a float timeout (it
            # checks for int), which would leave a hung API server holding this thread.
            timeout = (self._timeout, self._timeout)
            response = method(*args, **kwargs, _preload_content=False, _request_timeout=timeout)
            try:
                body = response.data
            finally:
                response.release_conn()
        except _api_exception() as exc:
            raise _api_error(exc, what, self.where) from None
        except urllib3.exceptions.HTTPError as exc:
            raise _transport_error(exc, self.where, self._timeout) from None
        try:
            document = json.loads(body)
        except ValueError:
            raise PermanentProbeError(f"{self.where}: {what}: the answer is not JSON") from None
        if not isinstance(document, dict):
            raise PermanentProbeError(f"{self.where}: {what}: the answer is not a Kubernetes object")
        return document

    def close(self) -> None:
        self._api.close()


class KubeObject:
    """One namespaced object, by name, read and written whole.

    ``replace`` sends the object with the ``metadata.resourceVersion`` it was read with,
    and the API server refuses it (409, :class:`KubeConflict`) when another writer has
    changed the object since: optimistic concurrency, as client-go's resource locks use it.
    Only API groups other than core ("") are addressable, through the generic REST path.
    """

    def __init__(
        self, api: Any, resource: Resource, namespace: str, name: str, where: str, timeout: float
    ) -> None:
        if not resource.group or not resource.namespaced:
            raise ValueError(f"{resource}: only namespaced resources of a named API group")
        self._api = api
        self._custom = _k8s().CustomObjectsApi(api)
        # Requests go through KubeClient's call: the same timeouts and error mapping.
        self._client = KubeClient(api, namespace, where, timeout)
        self.resource = resource
        self.namespace = namespace
        self.name = name
        #: The API server (and context) for messages; no credentials.
        self.where = where

    def __str__(self) -> str:
        return f"{self.resource} {self.namespace}/{self.name}"

    @property
    def _address(self) -> tuple[str, str, str, str]:
        return (self.resource.group, self.resource.version, self.namespace, self.resource.plural)

    async def read(self) -> Obj:
        """The object as stored; :class:`KubeNotFound` when there is none."""
        return await self._client.get(self.resource, self.name, self.namespace)

    async def create(self, body: Obj) -> Obj:
        """Create it (``body`` names it); :class:`KubeConflict` when it already exists."""
        method = self._custom.create_namespaced_custom_object
        return await self._request(f"create {self}", method, (*self._address, body))

    async def replace(self, body: Obj) -> Obj:
        """Replace it with ``body``; :class:`KubeConflict` when its resourceVersion is stale."""
        method = self._custom.replace_namespaced_custom_object
        return await self._request(f"update {self}", method, (*self._address, self.name, body))

    async def _request(self, what: str, method: Callable[..., Any], args: tuple[Any, ...]) -> Obj:
        return await asyncio.to_thread(self._client._call, what, method, args, {})

    def close(self) -> None:
        self._api.close()


async def connect_object(
    resource: Resource,
    namespace: str,
    name: str,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    request_timeout: float,
) -> KubeObject:
    """A :class:`KubeObject` reached the way probes reach a cluster without ``server``: a
    kubeconfig (``kubeconfig``, else $KUBECONFIG / ~/.kube/config) and its ``context``,
    else, inside a pod, the pod's service account. Reading a kubeconfig (and running its
    exec credential plugins) blocks, and so does the client's first import of its API
    classes (a second or more), so both happen in a thread. Close it when done."""
    # The probes' connection rules, without a probe: ``type`` only labels the target.
    target = KubeTarget(type=str(resource), kubeconfig=kubeconfig, context=context)

    def connect_in_thread() -> KubeObject:
        api, _, where = _api_client(target, Path.cwd())
        return KubeObject(api, resource, namespace, name, where, request_timeout)

    return await asyncio.to_thread(connect_in_thread)


@asynccontextmanager
async def connect(target: KubeTarget, context: ProbeContext) -> AsyncIterator[KubeClient]:
    """A client for the target; reading kubeconfigs (and running their exec credential
    plugins) is blocking work, so it happens in a thread too."""
    kube = await asyncio.to_thread(_connect, target, context)
    try:
        yield kube
    finally:
        # Closing joins nothing: requests still running in threads finish on their timeout.
        kube.close()


def _connect(target: KubeTarget, context: ProbeContext) -> KubeClient:
    api, namespace, where = _api_client(target, context.base_dir)
    return KubeClient(api, target.namespace or namespace, where, context.timeout)


def _api_client(target: KubeTarget, base_dir: Path) -> tuple[Any, str, str]:
    """(API client, the connection's default namespace, where it points for messages)."""
    configuration = _k8s().Configuration()
    if target.server is not None:
        namespace, where = _explicit(target, configuration, base_dir)
    elif target.kubeconfig or _default_kubeconfig_exists():
        namespace, where = _from_kubeconfig(target, configuration, base_dir)
    elif _in_cluster() and not target.context:
        namespace, where = _from_service_account(configuration)
    else:
        # Neither a kubeconfig nor a pod's service account: an unconfigured item, not a
        # broken file (the client would call the absent default file invalid).
        raise KubeNotConfigured()
    # One attempt per call: urllib3 would otherwise retry a hung read three times, each
    # with the full timeout, long after the runner has given up on the item.
    configuration.retries = False
    return _k8s().ApiClient(configuration), namespace, where


def _explicit(target: KubeTarget, configuration: Any, base_dir: Path) -> tuple[str, str]:
    assert target.server is not None
    configuration.host = target.server.rstrip("/")
    if target.token is not None:
        configuration.api_key = {"authorization": target.token.resolve()}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    if target.ca_file is not None:
        path = resolve_path(target.ca_file, base_dir)
        if not path.is_file():
            raise PermanentProbeError(f"CA bundle not found: {path}")
        configuration.ssl_ca_cert = str(path)
    configuration.verify_ssl = not target.insecure_skip_tls_verify
    return "default", _public(configuration.host)


def _from_kubeconfig(target: KubeTarget, configuration: Any, base_dir: Path) -> tuple[str, str]:
    # The client reads $KUBECONFIG once, when it is imported; read it now instead, so the
    # environment at run time decides (as it does for kubectl).
    path = (
        str(resolve_path(target.kubeconfig, base_dir))
        if target.kubeconfig
        else os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    )
    shown = path
    k8s_config = _k8s_config()
    try:
        k8s_config.load_kube_config(
            config_file=path, context=target.context, client_configuration=configuration, persist_config=False
        )
        contexts, current = k8s_config.list_kube_config_contexts(config_file=path)
    except k8s_config.ConfigException as exc:
        raise PermanentProbeError(f"kubeconfig {shown}: {exc}") from None
    except OSError as exc:
        raise PermanentProbeError(f"kubeconfig {shown}: {exc.strerror or exc}") from None
    name = target.context or (current or {}).get("name")
    chosen = next((c for c in contexts or [] if c.get("name") == name), None) or {}
    namespace = (chosen.get("context") or {}).get("namespace") or "default"
    return namespace, f"{_public(configuration.host)} (context {name})"


def _from_service_account(configuration: Any) -> tuple[str, str]:
    k8s_config = _k8s_config()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
        namespace = (SERVICE_ACCOUNT_DIR / "namespace").read_text(encoding="utf-8").strip()
    except k8s_config.ConfigException as exc:
        raise PermanentProbeError(f"in-cluster configuration: {exc}") from None
    except OSError as exc:
        raise PermanentProbeError(f"in-cluster configuration: {exc.strerror or exc}") from None
    return namespace or "default", f"{_public(configuration.host)} (in-cluster)"


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def _default_kubeconfig_exists() -> bool:
    paths = os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    return any(Path(p).expanduser().is_file() for p in paths.split(os.pathsep) if p)


def _public(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


def _scoped(name: str, namespace: str | None) -> str:
    return f"{namespace}/{name}" if namespace else name


def _describe_selectors(selectors: dict[str, str]) -> str:
    parts = []
    if "label_selector" in selectors:
        parts.append(f"labelled {selectors['label_selector']}")
    if "field_selector" in selectors:
        parts.append(f"with {selectors['field_selector']}")
    return " ".join(parts)


def _status_message(body: Any) -> str:
    """The ``message`` of a Status object, else a short piece of whatever came."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        status = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    if isinstance(status, dict) and status.get("message"):
        return str(status["message"])
    return text.strip()[:200]


def _api_error(exc: Any, what: str, where: str) -> ProbeError:
    code = int(exc.status or 0)
    detail = _status_message(exc.body) or str(exc.reason or "")
    if code == 0:  # the client wraps TLS failures as a status-less ApiException
        reason = str(exc.reason or "").strip().splitlines()[-1:] or ["TLS failed"]
        hint = "; set ca_file to the cluster CA" if "CERTIFICATE_VERIFY_FAILED" in str(exc.reason) else ""
        return PermanentProbeError(f"{where}: TLS with the API server failed: {reason[0]}{hint}")
    if code == 401:
        return PermanentProbeError(
            f"{where}: unauthorised ({detail}): the token or kubeconfig credentials are missing, "
            "wrong or expired"
        )
    if code == 403:
        message = f"{where}: forbidden: {detail} (grant the probe's account this permission)"
        return KubeForbidden(message, detail)
    if code == 404:
        return KubeNotFound(f"{where}: {what}: not found ({detail})")
    if code == 409:
        return KubeConflict(f"{where}: {what}: conflict ({detail})")
    temporary = code in (408, 410, 429) or code >= 500
    return (TemporaryProbeError if temporary else PermanentProbeError)(
        f"{where}: {what}: the API server answered {code} {exc.reason}: {detail}",
    )


def _transport_error(exc: Exception, where: str, timeout: float) -> ProbeError:
    import urllib3

    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: ask for it first.
    connect_failed = isinstance(exc, urllib3.exceptions.NewConnectionError)
    if isinstance(exc, urllib3.exceptions.TimeoutError) and not connect_failed:
        return TemporaryProbeError(f"{where}: no answer within {timeout:g}s")
    if isinstance(exc, urllib3.exceptions.SSLError):
        return PermanentProbeError(f"{where}: TLS with the API server failed: {exc}")
    reason = connect_failure_reason(exc) or ""
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        reason = reason or "the connection broke"
    return TemporaryProbeError(f"{where}: cannot reach the API server: {reason or type(exc).__name__}")
