"""``alertmanager``: notifications can go out. Alertmanager's v2 API tells which receivers
are configured (``/api/v2/receivers``) and whether its cluster is ready
(``/api/v2/status``: ``ready``, ``settling`` while peers gossip after a start, or
``disabled`` when it runs alone).

A receiver listed is not yet a receiver that notifies: one without any ``*_configs``
(the usual "blackhole"/"null") swallows alerts. The status carries the loaded config as
YAML, so those are named in EMPTY_RECEIVERS. Nothing else of that config is kept: it
can hold webhook URLs with tokens in them.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import Field

from ..errors import ProbeError
from ..probe import Evidence, Observation, ProbeContext, ProbeType, Value, register
from .monitoring_api import MonitoringClient, MonitoringConfig

SERVICE = "Alertmanager"


class AlertmanagerConfig(MonitoringConfig):
    type: Literal["alertmanager"] = "alertmanager"
    #: Receivers that must be configured.
    receivers: list[str] = Field(default_factory=list)


async def gather(config: AlertmanagerConfig, context: ProbeContext) -> Observation:
    async with MonitoringClient(SERVICE, config, context) as client:
        status = (await client.get("/api/v2/status")).json(SERVICE)
        listed = (await client.get("/api/v2/receivers")).json(SERVICE)
        source = client.url("/api/v2/receivers")
    if not isinstance(status, dict) or not isinstance(listed, list):
        raise ProbeError(f"{SERVICE} at {config.url} did not answer with the v2 API's JSON shapes")
    names = [str(r.get("name")) for r in listed if isinstance(r, dict) and r.get("name") is not None]
    cluster = status.get("cluster") or {}
    missing = [name for name in config.receivers if name not in names]
    empty = _empty_receivers((status.get("config") or {}).get("original"))
    values: dict[str, Any] = {
        "RECEIVERS": names,
        "RECEIVER_COUNT": len(names),
        "MISSING_RECEIVERS": missing,
        "EMPTY_RECEIVERS": [name for name in names if name in empty],
        "CLUSTER_STATUS": str(cluster.get("status", "unknown")),
        "CLUSTER_PEERS": len(cluster.get("peers") or []),
    }
    version = (status.get("versionInfo") or {}).get("version")
    if version:
        values["VERSION"] = str(version)
    parts = [
        f"Alertmanager {version or '(version hidden)'}, cluster {values['CLUSTER_STATUS']}, "
        f"{len(names)} receiver(s): {', '.join(names) or 'none'}"
    ]
    if missing:
        parts.append(f"missing receiver(s): {', '.join(missing)}")
    if values["EMPTY_RECEIVERS"]:
        parts.append(f"receiver(s) without any notifier: {', '.join(values['EMPTY_RECEIVERS'])}")
    evidence = Evidence(source, context.now(), source)
    return Observation(values=values, evidence=evidence, message="; ".join(parts))


def _empty_receivers(original: Any) -> set[str]:
    """Receivers of the loaded config with no integration at all (``*_configs`` lists)."""
    if not isinstance(original, str):
        return set()
    try:
        document = yaml.safe_load(original)
    except yaml.YAMLError:
        return set()  # the receivers endpoint is the source of truth; this is a bonus
    receivers = document.get("receivers") if isinstance(document, dict) else None
    empty = set()
    for receiver in receivers if isinstance(receivers, list) else []:
        if not isinstance(receiver, dict):
            continue
        integrations = [v for k, v in receiver.items() if k.endswith("_configs") and v]
        if not integrations:
            empty.add(str(receiver.get("name")))
    return empty


register(
    ProbeType(
        name="alertmanager",
        summary="Alertmanager receivers (required ones present) and cluster status.",
        config_model=AlertmanagerConfig,
        gather=gather,
        values=(
            Value("RECEIVERS", "names of the configured receivers"),
            Value("RECEIVER_COUNT", "number of receivers"),
            Value("MISSING_RECEIVERS", "required receivers that are not configured"),
            Value("EMPTY_RECEIVERS", "receivers without any notifier (they swallow alerts)"),
            Value("CLUSTER_STATUS", "ready, settling or disabled (a single instance)"),
            Value("CLUSTER_PEERS", "cluster peers, this instance included"),
            Value("VERSION", "Alertmanager version"),
        ),
        default_conditions=(
            "[RECEIVER_COUNT] > 0",
            "len([MISSING_RECEIVERS]) == 0",
            "[CLUSTER_STATUS] == any(ready, disabled)",
        ),
        example={
            "type": "alertmanager",
            "url": "http://alertmanager.monitoring.svc:9093",
            "receivers": ["erp-oncall"],
        },
    )
)
