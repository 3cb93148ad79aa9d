"""``helm_release``: a Helm release read from Helm's own storage in the cluster.

Helm 3 and 4 keep one Secret per revision, ``sh.helm.release.v1.<release>.v<revision>``,
labelled ``owner=helm,name=<release>`` (helm ``pkg/storage/driver/secrets.go``;
reference/probe-protocols.md, section 5). ``data.release`` decodes as: the API's base64,
Helm's base64, gzip when it starts with ``1f 8b 08`` (very old releases are not
compressed), then JSON. ``storage: configmap`` reads the ConfigMap driver, whose data has
no API base64 layer.

The current state is the highest revision. From the whole stored history:

- ROLLBACK_SEEN: a revision Helm wrote as ``Rollback to N`` (helm ``pkg/action/rollback.go``)
  that went through (deployed or superseded); rollbacks that failed are listed, not counted.
  A rollback that failed while waiting is described ``Release "x" failed: …``, as a failed
  install is; above revision 1 it can only be a rollback (upgrades write ``Upgrade "x"
  failed``), and it is listed with the rollbacks.
- KNOWN_GOOD_REVISION: the newest revision that deployed successfully: status
  ``deployed``, or ``superseded`` with neither a failure description nor the description
  of an operation that never finished (``Preparing upgrade``, ``Initial install
  underway``). A rollback marks the revision it starts from superseded, whatever it was:
  a failed upgrade, or one stuck in pending-upgrade, so the status alone does not prove
  it ever worked. PREVIOUS_GOOD_REVISION is the same below the current revision: the
  target of ``helm rollback``.

An expected chart version is a condition: ``[CHART_VERSION] == 1.1.0`` or
``[CHART_VERSION] == [RELEASE_VERSION]``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from typing import Any, Literal

from pydantic import Field

from ...clients.kubernetes import CONFIGMAPS, SECRETS, KubeTarget, Obj
from ...clients.kubernetes import connect as kube_connect
from ...errors import PermanentProbeError
from ...formats.kubernetes import field, items, labels, mapping, name
from ...probe import Evidence, Observation, ProbeContext, ProbeType, Value, register

GZIP_MAGIC = b"\x1f\x8b\x08"
SECRET_TYPE = "helm.sh/release.v1"  # noqa: S105  (a Secret type, not a password)
_ROLLBACK = re.compile(r"^Rollback to \d+")
#: Helm's failure descriptions: ``Upgrade "x" failed: …``, ``Release "x" failed: …``,
#: ``Rollback "x" failed: …`` (pkg/action/upgrade.go, install.go, rollback.go).
_FAILED = re.compile(r'^\w+ "[^"]*" failed')
_GOOD_STATUSES = frozenset({"deployed", "superseded"})
#: Descriptions of a revision still pending (upgrade.go, install.go): one superseded
#: with these never deployed.
_UNFINISHED = frozenset({"Preparing upgrade", "Initial install underway"})
#: install.go's failure description, which rollback.go also writes when waiting fails.
_RELEASE_FAILED = re.compile(r'^Release "[^"]*" failed')
_RELEASE_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

#: The observed value the rollback plan reads (:func:`golive.checks.rollback.previous_good_revision`).
PREVIOUS_GOOD_REVISION = "PREVIOUS_GOOD_REVISION"


class HelmReleaseConfig(KubeTarget):
    type: Literal["helm_release"] = "helm_release"
    release: str = Field(pattern=_RELEASE_NAME, max_length=53)
    #: Helm's storage driver (``HELM_DRIVER``): secret (the default) or configmap.
    storage: Literal["secret", "configmap"] = "secret"


def decode_release(data: str, *, api_base64: bool, max_bytes: int, where: str) -> Obj:
    """The release JSON from a stored ``release`` value, the way Helm's driver decodes it."""
    try:
        helm_text = base64.b64decode(data, validate=True) if api_base64 else data.encode("ascii")
        payload = base64.b64decode(helm_text, validate=True)
    except (binascii.Error, ValueError):
        raise PermanentProbeError(f"{where}: data.release is not base64") from None
    if payload[:3] == GZIP_MAGIC:
        decompressor = zlib.decompressobj(wbits=31)  # 31: expect a gzip header
        try:
            payload = decompressor.decompress(payload, max_bytes + 1)
        except zlib.error as exc:
            raise PermanentProbeError(f"{where}: data.release is not valid gzip ({exc})") from None
        if len(payload) > max_bytes:
            raise PermanentProbeError(f"{where}: the release is larger than {max_bytes} bytes uncompressed")
    try:
        release = json.loads(payload)
    except ValueError:
        raise PermanentProbeError(f"{where}: data.release does not decode to JSON") from None
    if not isinstance(release, dict):
        raise PermanentProbeError(f"{where}: data.release is not a Helm release object")
    return release


def _revision(release: Obj, stored: Obj) -> int:
    version = release.get("version")
    if isinstance(version, int):
        return version
    label = labels(stored).get("version", "")
    return int(label) if label.isdigit() else 0


def _succeeded(release: Obj) -> bool:
    status = field(release, "info", "status")
    description = str(field(release, "info", "description") or "")
    return status in _GOOD_STATUSES and not _FAILED.match(description) and description not in _UNFINISHED


def _is_rollback(revision: int, release: Obj) -> bool:
    description = str(field(release, "info", "description") or "")
    # Installs are revision 1; above it, only a rollback writes 'Release "x" failed'.
    return description.startswith("Rollback ") or (revision > 1 and bool(_RELEASE_FAILED.match(description)))


def _hooks(release: Obj) -> list[Obj]:
    return [
        {
            "name": hook.get("name"),
            "kind": hook.get("kind"),
            "events": hook.get("events") or [],
            "last_run": field(hook, "last_run", "phase") or None,
        }
        for hook in items(release, "hooks")
    ]


def summarise(history: list[tuple[int, Obj]]) -> tuple[dict[str, Any], str]:
    """Values and message from (revision, release) pairs, newest first."""
    revision, current = history[0]
    chart = mapping(current, "chart", "metadata")
    good = [rev for rev, release in history if _succeeded(release)]
    # "Rollback to N" while it runs and once it went through; 'Rollback "x" failed: …' after.
    rollbacks = [(rev, release) for rev, release in history if _is_rollback(rev, release)]
    hooks = _hooks(current)
    values: dict[str, Any] = {
        "STATUS": field(current, "info", "status"),
        "REVISION": revision,
        "CHART": chart.get("name"),
        "CHART_VERSION": chart.get("version"),
        "APP_VERSION": chart.get("appVersion"),
        "DESCRIPTION": field(current, "info", "description"),
        "LAST_DEPLOYED": field(current, "info", "last_deployed"),
        "HOOKS": hooks,
        "FAILED_HOOKS": [str(h["name"]) for h in hooks if h["last_run"] == "Failed"],
        "ROLLBACK_SEEN": any(
            _ROLLBACK.match(str(field(r, "info", "description")))
            and field(r, "info", "status") in _GOOD_STATUSES
            for _, r in rollbacks
        ),
        "ROLLBACKS": [
            f"v{rev}: {field(r, 'info', 'description')} ({field(r, 'info', 'status')})"
            for rev, r in rollbacks
        ],
        "KNOWN_GOOD_REVISION": good[0] if good else None,
        PREVIOUS_GOOD_REVISION: next((rev for rev in good if rev < revision), None),
        "HISTORY": [
            {
                "revision": rev,
                "status": field(release, "info", "status"),
                "chart_version": field(release, "chart", "metadata", "version"),
                "app_version": field(release, "chart", "metadata", "appVersion"),
                "description": field(release, "info", "description"),
            }
            for rev, release in history
        ],
    }
    message = (
        f"revision {revision}: {values['STATUS']}, chart {values['CHART']} {values['CHART_VERSION']}"
        f" (app {values['APP_VERSION']})"
    )
    if values["STATUS"] != "deployed" and values["DESCRIPTION"]:
        message += f": {values['DESCRIPTION']}"
    message += f"; known good revision {values['KNOWN_GOOD_REVISION']}"
    return values, message


async def gather(config: HelmReleaseConfig, context: ProbeContext) -> Observation:
    secret_driver = config.storage == "secret"
    selector = f"owner=helm,name={config.release}"
    async with kube_connect(config, context) as kube:
        stored = await kube.objects(SECRETS if secret_driver else CONFIGMAPS, label_selector=selector)
        source = kube.source()
    prefix = f"sh.helm.release.v1.{config.release}.v"
    history: list[tuple[int, Obj]] = []
    for entry in stored:
        if not name(entry).startswith(prefix) or (secret_driver and entry.get("type") != SECRET_TYPE):
            continue
        data = field(entry, "data", "release")
        where = f"{config.storage} {name(entry)}"
        if not isinstance(data, str):
            raise PermanentProbeError(f"{where}: has no data.release")
        release = decode_release(
            data, api_base64=secret_driver, max_bytes=context.max_body_bytes, where=where
        )
        history.append((_revision(release, entry), release))
    evidence = Evidence(f"{source}, Helm {config.storage}s of release {config.release}", context.now())
    if not history:
        values: dict[str, Any] = {"STATUS": None, "REVISION": None, "HISTORY": [], "ROLLBACK_SEEN": False}
        return Observation(
            values=values,
            evidence=evidence,
            message=f"no Helm release {config.release} (no {config.storage} labelled {selector})",
        )
    history.sort(key=lambda pair: pair[0], reverse=True)
    values, message = summarise(history)
    return Observation(values=values, evidence=evidence, message=message)


HELM_RELEASE = register(
    ProbeType(
        name="helm_release",
        summary="A Helm release from its storage secrets: status, chart and app version, hooks, "
        "rollback history, last known-good revision.",
        config_model=HelmReleaseConfig,
        gather=gather,
        values=(
            Value("STATUS", "status of the highest revision (deployed, failed, pending-upgrade, …)"),
            Value("REVISION", "the highest revision"),
            Value("CHART", "chart name of the highest revision"),
            Value("CHART_VERSION", "chart version of the highest revision"),
            Value("APP_VERSION", "chart appVersion of the highest revision"),
            Value("DESCRIPTION", "Helm's description of the highest revision"),
            Value("LAST_DEPLOYED", "when the highest revision was deployed"),
            Value("HOOKS", "hooks of the release: name, kind, events, last_run phase", structured=True),
            Value("FAILED_HOOKS", "hooks whose last run failed"),
            Value("ROLLBACK_SEEN", "whether a rollback that went through is in the stored history"),
            Value("ROLLBACKS", "every rollback in the history, with its status"),
            Value("KNOWN_GOOD_REVISION", "newest revision that deployed successfully"),
            Value("PREVIOUS_GOOD_REVISION", "newest successful revision below the current one"),
            Value("HISTORY", "revision, status, chart_version, app_version, description", structured=True),
        ),
        default_conditions=("[STATUS] == deployed",),
        reading=(
            (
                "Read from Helm's own storage (Secrets, or ConfigMaps), decoded the way Helm decodes it; "
                "the highest revision is the current state."
            ),
            (
                "A revision counts as known good when it deployed: `deployed`, or `superseded` without a "
                "failure description and without the description of an operation that never finished "
                "(`Preparing upgrade`): a rollback marks the revision it starts from superseded, even a "
                "failed or stuck upgrade."
            ),
            (
                'A rollback that failed while waiting is described `Release "x" failed` like a failed '
                "install; above revision 1 it is listed among the rollbacks."
            ),
        ),
        example={
            "type": "helm_release",
            "kubeconfig": "~/.kube/config",
            "namespace": "valeo",
            "release": "neuroerp",
        },
    )
)
