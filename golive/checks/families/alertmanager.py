"""``alertmanager``: notifications can go out. Alertmanager's v2 API tells which receivers
are configured (``/api/v2/receivers``) and whether its cluster is ready
(``/api/v2/status``: ``ready``, ``settling`` while peers gossip after a start, or
``disabled`` when it runs alone).

A receiver listed is not yet a receiver that notifies: one without any ``*_configs``
(the usual "blackhole"/"null") swallows alerts. The status carries the loaded config as
YAML, so those are named in EMPTY_RECEIVERS. Nothing else of that config is kept: it
can hold webhook URLs with tokens in them.

That config is the one *loaded*, not the one on disk: after a failed reload Alertmanager
keeps routing with the previous one, and the v2 API does not say so. Its ``/metrics``
does (``alertmanager_config_last_reload_successful`` and the time of the last good load),
so CONFIG_RELOAD_OK is read there; where ``/metrics`` is not exposed it is not observed.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any, Literal

import yaml
from pydantic import Field

from ..clients.monitoring import MonitoringClient, MonitoringConfig
from ..errors import PermanentProbeError
from ..probe import Evidence, Observation, ProbeContext, ProbeType, Value, register

SERVICE = "Alertmanager"
_RELOAD_OK = "alertmanager_config_last_reload_successful"
_LOADED_AT = "alertmanager_config_last_reload_success_timestamp_seconds"
_SAMPLE = re.compile(r"^([a-z_:]+)(?:\{[^}]*\})?\s+(\S+)", re.MULTILINE)


class AlertmanagerConfig(MonitoringConfig):
    type: Literal["alertmanager"] = "alertmanager"
    #: Receivers that must be configured.
    receivers: list[str] = Field(default_factory=list)


async def gather(config: AlertmanagerConfig, context: ProbeContext) -> Observation:
    async with MonitoringClient(SERVICE, config, context) as client:
        status = (await client.get("/api/v2/status")).json(SERVICE)
        listed = (await client.get("/api/v2/receivers")).json(SERVICE)
        metrics = await client.get("/metrics", allow=(404,))
        reload_values = (
            config_reload(metrics.content.decode("utf-8", "replace")) if metrics.status == 200 else {}
        )
        source = client.url("/api/v2/receivers")
    if not isinstance(status, dict) or not isinstance(listed, list):
        raise PermanentProbeError(f"{SERVICE} at {config.url} did not answer with the v2 API's JSON shapes")
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
        **reload_values,
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
    if values.get("CONFIG_RELOAD_OK") is False:
        since = values.get("CONFIG_LOADED_AT", "an earlier time")
        parts.insert(
            0,
            f"the last configuration reload failed (seen at {context.now():%Y-%m-%d %H:%M:%S} UTC); "
            f"the receivers shown are from the configuration loaded at {since}",
        )
    evidence = Evidence(source, context.now(), source)
    return Observation(values=values, evidence=evidence, message="; ".join(parts))


def config_reload(exposition: str) -> dict[str, Any]:
    """CONFIG_RELOAD_OK and CONFIG_LOADED_AT from Alertmanager's own metrics (pure)."""
    samples: dict[str, float] = {}
    for name, raw in _SAMPLE.findall(exposition):
        if name in (_RELOAD_OK, _LOADED_AT):
            try:
                samples[name] = float(raw)
            except ValueError:
                continue
    values: dict[str, Any] = {}
    if _RELOAD_OK in samples:
        values["CONFIG_RELOAD_OK"] = samples[_RELOAD_OK] == 1
    loaded = samples.get(_LOADED_AT)
    if loaded is not None and math.isfinite(loaded) and loaded > 0:
        values["CONFIG_LOADED_AT"] = datetime.fromtimestamp(loaded, UTC).isoformat(timespec="seconds")
    return values


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
            Value("CONFIG_RELOAD_OK", "false when the last configuration reload failed (from /metrics)"),
            Value("CONFIG_LOADED_AT", "when the configuration in use was loaded (from /metrics)"),
        ),
        default_conditions=(
            "[RECEIVER_COUNT] > 0",
            "len([MISSING_RECEIVERS]) == 0",
            "[CLUSTER_STATUS] == any(ready, disabled)",
            # Passes where /metrics is not exposed: only a reported failure fails.
            "[CONFIG_RELOAD_OK] != false",
        ),
        example={
            "type": "alertmanager",
            "url": "http://alertmanager.monitoring.svc:9093",
            "receivers": ["erp-oncall"],
        },
    )
)
