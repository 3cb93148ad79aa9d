"""The leader lease as a Kubernetes Lease (``coordination.k8s.io/v1``), kept the way
client-go's LeaseLock keeps it, so ``kubectl get lease`` reads it like any controller's.

- The Lease's spec is the election record: ``holderIdentity``, ``leaseDurationSeconds``,
  ``acquireTime`` and ``renewTime`` (MicroTime), ``leaseTransitions`` (the term).
- A lease held by another lapses by *this* process's monotonic clock: a lease duration
  after this process last saw the record change (a new ``resourceVersion``), never by
  comparing ``renewTime`` with the local wall clock, since the replicas' clocks may
  disagree. A holder that renews changes the record, and the count starts again.
- Every write is a whole-object replace carrying the ``resourceVersion`` it was read at.
  Of two replicas writing the same version, the API server takes one and refuses the
  other (409): the loser reads the Lease again and reports it held by the winner.
- Releasing clears ``holderIdentity`` (and sets a 1 s duration, as client-go does), so
  that a follower takes over at its next attempt instead of a lease duration later.

The connection is the probes' (golive/checks/clients/kubernetes.py): inside a pod the
ServiceAccount, which the Role ``golive-leader-election`` (manifests/base/rbac.yaml)
allows to create Leases and to get and update the one named golive-leader.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ...checks.clients.kubernetes import (
    LEASES,
    SERVICE_ACCOUNT_DIR,
    KubeConflict,
    KubeForbidden,
    KubeNotFound,
    KubeObject,
    Obj,
    connect_object,
)
from ...checks.errors import ProbeError
from ...settings import load_settings, text_of
from ...storage import LeaseState
from .database import LEADER_LEASE, LeaseUnavailable

log = logging.getLogger(__name__)

#: Seconds one request to the API server may take; the election loop cuts a whole
#: acquire sooner (a third of the lease duration).
REQUEST_TIMEOUT = 5.0
RBAC_MANIFEST = "manifests/base/rbac.yaml"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class LeaseRecord:
    """A Lease as read: its election record, and the whole object to replace it with."""

    holder: str  # "" when released or never held
    duration_seconds: int
    transitions: int
    resource_version: str
    obj: Obj

    @classmethod
    def from_object(cls, obj: Obj) -> LeaseRecord:
        """Raises ValueError, saying what is wrong, for anything but a Lease."""
        metadata, spec = obj.get("metadata"), obj.get("spec") or {}
        if not isinstance(metadata, dict) or not isinstance(spec, dict):
            raise ValueError("metadata or spec is not an object")
        version = metadata.get("resourceVersion")
        if not isinstance(version, str) or not version:
            raise ValueError("metadata.resourceVersion is missing")
        holder = spec.get("holderIdentity") or ""
        if not isinstance(holder, str):
            raise ValueError(f"spec.holderIdentity is {holder!r}, not a string")
        return cls(
            holder=holder,
            duration_seconds=_whole_number(spec, "leaseDurationSeconds"),
            transitions=_whole_number(spec, "leaseTransitions"),
            resource_version=version,
            obj=obj,
        )


def _whole_number(spec: Obj, key: str) -> int:
    value = spec.get(key)
    if value is None:  # omitempty: absent means 0
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"spec.{key} is {value!r}, not a whole number")
    return value


def micro_time(at: datetime) -> str:
    """metav1.MicroTime on the wire: RFC 3339 in UTC with microseconds."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_seconds(duration: timedelta) -> int:
    """``leaseDurationSeconds`` is whole seconds: round up, so that no follower takes the
    lease before the holder's own (shorter) deadline."""
    return max(1, math.ceil(duration.total_seconds()))


def new_lease(namespace: str, name: str, holder: str, duration: timedelta) -> Obj:
    now = micro_time(datetime.now(UTC))
    return {
        "apiVersion": f"{LEASES.group}/{LEASES.version}",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": lease_seconds(duration),
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": 0,
        },
    }


def with_spec(record: LeaseRecord, **changes: object) -> Obj:
    """The Lease as read (its metadata, so its resourceVersion, too), with spec changes."""
    spec = record.obj.get("spec") or {}
    return {**record.obj, "spec": {**spec, **changes}}


def renewed(record: LeaseRecord, duration: timedelta) -> Obj:
    now = micro_time(datetime.now(UTC))
    return with_spec(record, leaseDurationSeconds=lease_seconds(duration), renewTime=now)


def taken_over(record: LeaseRecord, holder: str, duration: timedelta) -> Obj:
    now = micro_time(datetime.now(UTC))
    return with_spec(
        record,
        holderIdentity=holder,
        leaseDurationSeconds=lease_seconds(duration),
        acquireTime=now,
        renewTime=now,
        leaseTransitions=record.transitions + 1,
    )


def released(record: LeaseRecord) -> Obj:
    now = micro_time(datetime.now(UTC))
    return with_spec(record, holderIdentity="", leaseDurationSeconds=1, acquireTime=now, renewTime=now)


@dataclass
class KubernetesLease:
    """A :class:`~golive.bot.ha.database.LeaseBackend` on the Lease ``namespace/name``.

    One per process: it remembers when it last saw the Lease change, which is what a
    lease held by another lapses by. Connects on first use.
    """

    namespace: str
    name: str = LEADER_LEASE
    #: A kubeconfig path; default $KUBECONFIG / ~/.kube/config, or in a pod its ServiceAccount.
    kubeconfig: str | None = None
    #: A kubeconfig context; default its current-context.
    context: str | None = None
    request_timeout: float = REQUEST_TIMEOUT
    description: str = field(init=False)
    _lease: KubeObject | None = field(default=None, init=False, repr=False)
    _seen_version: str | None = field(default=None, init=False, repr=False)
    #: time.monotonic() when the Lease was seen with _seen_version first.
    _seen_at: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.description = f"Kubernetes Lease {self.namespace}/{self.name}"

    @classmethod
    def from_environment(cls, *, service_account_dir: Path = SERVICE_ACCOUNT_DIR) -> KubernetesLease:
        """``GOLIVE_LEASE_NAMESPACE`` (default: the pod's namespace, else "default"),
        ``GOLIVE_LEASE_NAME`` (default golive-leader) and ``GOLIVE_LEASE_CONTEXT`` (a
        kubeconfig context). ValueError, naming the variable, for a value Kubernetes
        would refuse."""
        namespace = _setting(
            "GOLIVE_LEASE_NAMESPACE", _DNS_LABEL, 63, "lowercase letters, digits and '-' (e.g. golive)"
        )
        name = _setting(
            "GOLIVE_LEASE_NAME",
            _DNS_SUBDOMAIN,
            253,
            "lowercase letters, digits, '-' and '.' (e.g. golive-leader)",
        )
        context = (load_settings().lease_context or "").strip() or None
        return cls(
            namespace=namespace or _pod_namespace(service_account_dir),
            name=name or LEADER_LEASE,
            context=context,
        )

    async def acquire(self, holder: str, duration: timedelta) -> LeaseState:
        lease = await self._connected()
        record = await self._read(lease)
        for second_try in (False, True):
            state = await self._take_or_renew(lease, record, holder, duration)
            if state is not None:
                return state
            # 409: another writer changed the Lease since it was read. Who holds it now?
            log.debug("%s: %s lost a write race", self.description, holder)
            record = await self._read_after_conflict(lease)
            # Still ours: nobody took it, someone edited it (labels, annotations). Renew
            # on the new version once, rather than step down for nothing.
            if second_try or record is None or record.holder != holder:
                break
        return self._lost(record, holder)

    async def release(self, holder: str) -> None:
        lease = await self._connected()
        record = await self._read(lease)
        if record is None or record.holder != holder:
            return
        try:
            written = await lease.replace(released(record))
        except (KubeConflict, KubeNotFound):
            return  # changed since it was read: no longer ours to give up
        except ProbeError as exc:
            raise self._unavailable("update", exc) from None
        self._see(self._parse(written))

    def close(self) -> None:
        if self._lease is not None:
            self._lease.close()
            self._lease = None

    async def _take_or_renew(
        self, lease: KubeObject, record: LeaseRecord | None, holder: str, duration: timedelta
    ) -> LeaseState | None:
        """The lease afterwards, or None when a write lost a race (409)."""
        if record is None:
            body = new_lease(self.namespace, self.name, holder, duration)
            return await self._write(lease, "create", body, duration)
        if record.holder == holder:
            return await self._write(lease, "update", renewed(record, duration), duration)
        standing = self._standing(record)
        if standing.expires_in > timedelta(0):
            return standing  # held by another, and not lapsed by our observation
        return await self._write(lease, "update", taken_over(record, holder, duration), duration)

    async def _write(self, lease: KubeObject, verb: str, body: Obj, duration: timedelta) -> LeaseState | None:
        try:
            written = await (lease.create(body) if verb == "create" else lease.replace(body))
        except KubeConflict:
            return None  # created, or changed, by another replica first
        except KubeNotFound as exc:
            if verb == "create":  # no such namespace (or no Lease API)
                raise self._unavailable(verb, exc) from None
            return None  # deleted since it was read
        except ProbeError as exc:
            raise self._unavailable(verb, exc) from None
        record = self._parse(written)
        self._see(record)
        # Ours for ``duration`` from now (the Lease says as long or longer, in whole
        # seconds); the election loop counts it from before the request, earlier still.
        return LeaseState(record.holder, record.transitions, duration)

    async def _read(self, lease: KubeObject) -> LeaseRecord | None:
        """The Lease as stored (None when there is none), noted as seen."""
        try:
            obj = await lease.read()
        except KubeNotFound:
            return None
        except ProbeError as exc:
            raise self._unavailable("get", exc) from None
        record = self._parse(obj)
        self._see(record)
        return record

    async def _read_after_conflict(self, lease: KubeObject) -> LeaseRecord | None:
        try:
            return await self._read(lease)
        except LeaseUnavailable as exc:
            log.debug("%s: not read again after a conflict: %s", self.description, exc)
            return None

    def _lost(self, record: LeaseRecord | None, holder: str) -> LeaseState:
        """After a lost race: not held by ``holder``, whatever the Lease says."""
        if record is None:  # gone, or unreadable: ask again soon
            return LeaseState("", 0, timedelta(0))
        state = self._standing(record)
        if state.holder == holder:
            return LeaseState(holder, state.term, timedelta(0))
        return state

    def _see(self, record: LeaseRecord) -> None:
        """Restart the lapse count when the record has changed (client-go's observedTime)."""
        if record.resource_version != self._seen_version:
            self._seen_version = record.resource_version
            self._seen_at = time.monotonic()

    def _standing(self, record: LeaseRecord) -> LeaseState:
        """The lease by this process's observation: a holder's lapses a lease duration
        after the record last changed; a released one (no holder) is free now."""
        remaining = self._seen_at + record.duration_seconds - time.monotonic() if record.holder else 0.0
        return LeaseState(record.holder, record.transitions, timedelta(seconds=remaining))

    def _parse(self, obj: Obj) -> LeaseRecord:
        try:
            return LeaseRecord.from_object(obj)
        except ValueError as exc:
            raise LeaseUnavailable(
                f"{self.description}: the API server sent a malformed Lease: {exc}"
            ) from None

    async def _connected(self) -> KubeObject:
        if self._lease is None:
            try:
                self._lease = await connect_object(
                    LEASES,
                    self.namespace,
                    self.name,
                    kubeconfig=self.kubeconfig,
                    context=self.context,
                    request_timeout=self.request_timeout,
                )
            except ProbeError as exc:
                raise LeaseUnavailable(f"{self.description}: {exc.message}") from None
        return self._lease

    def _unavailable(self, verb: str, exc: ProbeError) -> LeaseUnavailable:
        if isinstance(exc, KubeForbidden):
            return LeaseUnavailable(
                f"{self.description}: forbidden: the ServiceAccount may not {verb} leases in namespace "
                f"{self.namespace} (see {RBAC_MANIFEST}); the API server said: {exc.detail}"
            )
        return LeaseUnavailable(f"{self.description}: {exc.message}")


def _setting(variable: str, pattern: re.Pattern[str], longest: int, allowed: str) -> str | None:
    raw = text_of(load_settings(), variable) or ""
    value = raw.strip()
    if not value:
        return None
    if len(value) > longest or not pattern.match(value):
        raise ValueError(
            f"{variable}={raw!r} is not a Kubernetes name: use {allowed}, at most {longest} characters, "
            "or unset it for the default"
        )
    return value


def _pod_namespace(service_account_dir: Path) -> str:
    """The namespace the pod runs in, as the kubelet mounts it; "default" outside a pod."""
    try:
        namespace = (service_account_dir / "namespace").read_text(encoding="utf-8").strip()
    except OSError:
        return "default"
    return namespace if _DNS_LABEL.match(namespace) else "default"
