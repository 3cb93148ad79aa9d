"""Prometheus, asked through its HTTP API: one probe type per question, so each has its
own parameters, observed values and default conditions, and a condition naming a value
the check does not observe fails when the checklist loads.

- ``prometheus_query``: an instant PromQL query. VALUE when exactly one sample came back
  (P95, error rate, throughput written as one expression), SERIES, and VALUES by series.
  An empty vector means no series matched: VALUE is then absent (a condition on it shows
  "(not observed)"), never 0.
- ``prometheus_rules``: alerting and recording rules are loaded, healthy, and the named
  groups and rules exist; firing alerts are counted.
- ``prometheus_targets``: active scrape targets up and down, per job.
- ``prometheus_retention``: the retention in effect, in days.
- ``prometheus_ready``: ``/-/ready``; a 503 is an observation (not ready), not an error.

Errors: unreachable and Prometheus' 503/timeout are temporary; 401/403 say "not
authorised"; a PromQL error (400 ``bad_data``, 422 ``execution``) is permanent and quotes
Prometheus. Wire details are in :mod:`golive.checks.formats.prometheus`.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from ..clients.monitoring import Answer, MonitoringClient, MonitoringConfig
from ..errors import PermanentProbeError
from ..formats.prometheus import (
    SERVICE,
    ConfigState,
    agent_mode,
    api_data,
    config_state,
    parse_query,
    parse_retention,
    retention_from_flags,
    show_number,
    summarise_rules,
    summarise_targets,
    warnings_of,
)
from ..probe import Evidence, Observation, ProbeContext, ProbeType, Value, register

#: The statuses Prometheus' API answers with its error envelope; api_data explains them.
_API_ERRORS = (400, 422, 500, 503)
_LISTED = 5  # names shown in a message before "…"
_QUERY_SHOWN = 80  # characters of a query a message repeats
_SERIES_SHOWN = 100  # characters of one series' labels a message shows


class PrometheusQueryConfig(MonitoringConfig):
    type: Literal["prometheus_query"] = "prometheus_query"
    #: An instant query, evaluated now.
    query: str = Field(min_length=1)


class PrometheusRulesConfig(MonitoringConfig):
    type: Literal["prometheus_rules"] = "prometheus_rules"
    #: Only alerting (``alert``) or only recording (``record``) rules; both if unset.
    rule_type: Literal["alert", "record"] | None = None
    #: Rule groups that must exist.
    groups: list[str] = Field(default_factory=list)
    #: Alert names and recorded series names that must exist.
    rules: list[str] = Field(default_factory=list)


class PrometheusTargetsConfig(MonitoringConfig):
    type: Literal["prometheus_targets"] = "prometheus_targets"
    #: The jobs this check is about: each must have an active target, and only their
    #: targets are counted. Empty: every active target counts.
    jobs: list[str] = Field(default_factory=list)


class PrometheusRetentionConfig(MonitoringConfig):
    type: Literal["prometheus_retention"] = "prometheus_retention"


class PrometheusReadyConfig(MonitoringConfig):
    type: Literal["prometheus_ready"] = "prometheus_ready"


async def _get_data(
    client: MonitoringClient, path: str, what: str, params: dict[str, str] | None = None
) -> tuple[Any, Answer]:
    answer = await client.get(path, params, allow=_API_ERRORS)
    return api_data(answer, what), answer


def _evidence(
    client: MonitoringClient, path: str, context: ProbeContext, link: str | None = None
) -> Evidence:
    source = client.url(path)
    return Evidence(source, context.now(), link or source)


async def _config_state(client: MonitoringClient) -> ConfigState:
    """Whether the configuration behind the rules and targets is the one on disk: a
    server without runtimeinfo (before 2.15, or a proxy exposing less) does not say."""
    answer = await client.get("/api/v1/status/runtimeinfo", allow=(*_API_ERRORS, 401, 403, 404))
    if answer.status in (401, 403, 404):  # a proxy that lets the rules through, not this
        return ConfigState(None, None)
    return config_state(api_data(answer, "the runtimeinfo request"))


def _seen_at(context: ProbeContext) -> str:
    return f"{context.now():%Y-%m-%d %H:%M:%S} UTC"


def _sample(series: str, value: float | str) -> str:
    """`` = 1`` for an aggregate without labels, ``: up{job="api"} = 1`` for a series."""
    number = show_number(value)
    if series in ("", "{}"):
        return f" = {number}"
    return f": {_shortened(series, _SERIES_SHOWN)} = {number}"


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


async def gather_query(config: PrometheusQueryConfig, context: ProbeContext) -> Observation:
    params = {"query": config.query, "timeout": f"{context.timeout:g}"}
    async with MonitoringClient(SERVICE, config, context) as client:
        data, answer = await _get_data(client, "/api/v1/query", f"the query {config.query!r}", params)
        link = f"{client.base}/graph?g0.expr={quote(config.query)}&g0.tab=1"
        evidence = _evidence(client, "/api/v1/query", context, link)
    result = parse_query(data, config.query)
    # A scalar or string result counts as one series: there is a value.
    values: dict[str, Any] = {
        "RESULT_TYPE": result.result_type,
        "SERIES": len(result.values),
        "VALUES": result.values,
    }
    single = result.single
    if single is not None:
        values["VALUE"] = single
    measured = _shortened(" ".join(config.query.split()), _QUERY_SHOWN)
    if not result.values:
        message = "no series: the query matched nothing (VALUE not observed)"
    elif single is not None:
        message = f"{measured}{_sample(next(iter(result.values)), single)}"
    else:
        shown = ", ".join(_sample(key, value)[2:] for key, value in sorted(result.values.items())[:_LISTED])
        more = f" and {len(result.values) - _LISTED} more" if len(result.values) > _LISTED else ""
        message = (
            f"{measured}: {len(result.values)} series, {shown}{more} "
            "(VALUE needs exactly one: aggregate, e.g. sum(…), or use VALUES)"
        )
    notes = warnings_of(answer)
    if notes:
        message += "; Prometheus warns: " + "; ".join(notes)
    return Observation(values=values, evidence=evidence, message=message)


async def gather_rules(config: PrometheusRulesConfig, context: ProbeContext) -> Observation:
    params = {"type": str(config.rule_type)} if config.rule_type else None
    async with MonitoringClient(SERVICE, config, context) as client:
        data, _ = await _get_data(client, "/api/v1/rules", "the rules request", params)
        state = await _config_state(client)
        evidence = _evidence(client, "/api/v1/rules", context)
    summary = summarise_rules(data, config.rule_type)
    missing_groups = [g for g in config.groups if g not in summary.groups]
    missing_rules = [r for r in config.rules if r not in summary.names]
    total = summary.alerting + summary.recording
    values: dict[str, Any] = {
        "GROUPS": len(summary.groups),
        "RULES": total,
        "ALERTING_RULES": summary.alerting,
        "RECORDING_RULES": summary.recording,
        "UNHEALTHY": len(summary.unhealthy),
        "UNHEALTHY_RULES": summary.unhealthy,
        "MISSING_GROUPS": missing_groups,
        "MISSING_RULES": missing_rules,
        "FIRING": summary.firing_alerts,
        "FIRING_RULES": summary.firing_rules,
        **state.values(),
    }
    parts = [
        f"{total} rule(s) in {len(summary.groups)} group(s) "
        f"({summary.alerting} alerting, {summary.recording} recording)"
    ]
    if summary.unhealthy:
        parts.append(f"{len(summary.unhealthy)} unhealthy: {_listed(summary.unhealthy)}")
    if missing_groups:
        parts.append(f"missing group(s): {_listed(missing_groups)}")
    if missing_rules:
        parts.append(f"missing rule(s): {_listed(missing_rules)}")
    if summary.firing_alerts:
        parts.append(f"{summary.firing_alerts} alert(s) firing: {_listed(summary.firing_rules)}")
    note = state.note("rules", _seen_at(context))
    if note:
        parts.insert(0, note)
    return Observation(values=values, evidence=evidence, message="; ".join(parts))


async def gather_targets(config: PrometheusTargetsConfig, context: ProbeContext) -> Observation:
    async with MonitoringClient(SERVICE, config, context) as client:
        data, _ = await _get_data(client, "/api/v1/targets", "the targets request", {"state": "active"})
        state = await _config_state(client)
        evidence = _evidence(client, "/api/v1/targets", context)
    summary = summarise_targets(data, config.jobs)
    missing = [job for job in config.jobs if job not in summary.jobs]
    values: dict[str, Any] = {
        "TARGETS": summary.up + summary.down + summary.unknown,
        "UP": summary.up,
        "DOWN": summary.down,
        "UNKNOWN": summary.unknown,
        "DOWN_TARGETS": summary.down_targets,
        "JOBS": summary.jobs,
        "MISSING_JOBS": missing,
        **state.values(),
    }
    parts = [f"{summary.up} target(s) up, {summary.down} down"]
    if summary.unknown:
        parts[0] += f", {summary.unknown} not scraped yet"
    if summary.down_targets:
        parts.append(f"down: {_listed(summary.down_targets)}")
    if missing:
        parts.append(f"no active target for job(s): {_listed(missing)}")
    note = state.note("targets", _seen_at(context))
    if note:
        parts.insert(0, note)
    return Observation(values=values, evidence=evidence, message="; ".join(parts))


async def gather_retention(config: PrometheusRetentionConfig, context: ProbeContext) -> Observation:
    async with MonitoringClient(SERVICE, config, context) as client:
        # runtimeinfo holds the effective retention (flags may be overridden by the config
        # file in 3.x); servers without it, or without the field, fall back to the flags.
        answer = await client.get("/api/v1/status/runtimeinfo", allow=(*_API_ERRORS, 404))
        info = api_data(answer, "the runtimeinfo request") if answer.status != 404 else None
        effective = (info or {}).get("storageRetention") if isinstance(info, dict) else None
        if isinstance(effective, str) and effective.strip():
            path, retention = "/api/v1/status/runtimeinfo", parse_retention(effective.strip())
        else:
            flags, _ = await _get_data(client, "/api/v1/status/flags", "the flags request")
            if not isinstance(flags, dict):
                raise PermanentProbeError(f"{SERVICE} answered /api/v1/status/flags without a map of flags")
            if agent_mode(flags):
                raise PermanentProbeError(
                    f"{SERVICE} at {config.url} runs in agent mode: it forwards samples and keeps "
                    "no TSDB, so it has no retention; point url at the server that stores the data"
                )
            path, retention = "/api/v1/status/flags", retention_from_flags(flags)
        evidence = _evidence(client, path, context)
    values: dict[str, Any] = {"RETENTION": retention.text, "RETENTION_SOURCE": path.rsplit("/", 1)[1]}
    if retention.days is not None:
        values["RETENTION_DAYS"] = retention.days
    if retention.size_bytes is not None:
        values["RETENTION_SIZE_BYTES"] = retention.size_bytes
    if retention.percent is not None:
        values["RETENTION_PERCENT"] = retention.percent
    days = f" ({retention.days:g} days)" if retention.days is not None else ""
    message = "; ".join([f"retention {retention.text}{days}", *retention.notes])
    return Observation(values=values, evidence=evidence, message=message)


async def gather_ready(config: PrometheusReadyConfig, context: ProbeContext) -> Observation:
    async with MonitoringClient(SERVICE, config, context) as client:
        answer = await client.get("/-/ready", allow=(503,))
        values: dict[str, Any] = {"READY": answer.status == 200, "STATUS": answer.status}
        stopping = answer.headers.get("x-prometheus-stopping")
        if stopping is not None:
            values["STOPPING"] = stopping.strip().lower() == "true"
        if values["READY"]:
            # The API answers only once ready; some proxies expose /-/ready alone.
            build = await client.get("/api/v1/status/buildinfo", allow=(404,))
            body = build.json(SERVICE) if build.status == 200 else None
            data = body.get("data") if isinstance(body, dict) else None
            version = data.get("version") if isinstance(data, dict) else None
            if version:
                values["VERSION"] = str(version)
        evidence = _evidence(client, "/-/ready", context)
    if values["READY"]:
        message = " ".join(["Prometheus", *([values["VERSION"]] if "VERSION" in values else []), "is ready"])
    elif values.get("STOPPING"):
        message = "Prometheus is shutting down (HTTP 503)"
    else:
        message = "Prometheus is not ready (HTTP 503): starting, or replaying its write-ahead log"
    return Observation(values=values, evidence=evidence, message=message)


_EXAMPLE_URL = "http://prometheus.monitoring.svc:9090"

register(
    ProbeType(
        name="prometheus_query",
        summary="An instant PromQL query: the value, the series count, values by series.",
        config_model=PrometheusQueryConfig,
        gather=gather_query,
        values=(
            Value("VALUE", "the value when exactly one sample came back (absent for none)"),
            Value("SERIES", "number of series returned (0: the query matched nothing)"),
            Value("VALUES", 'series (e.g. {job="api"}) → value', structured=True),
            Value("RESULT_TYPE", "vector, scalar or string"),
        ),
        default_conditions=("[SERIES] > 0",),
        example={
            "type": "prometheus_query",
            "url": _EXAMPLE_URL,
            "query": "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        },
    )
)
register(
    ProbeType(
        name="prometheus_rules",
        summary="Alerting and recording rules: present, healthy, required groups and rules exist.",
        config_model=PrometheusRulesConfig,
        gather=gather_rules,
        values=(
            Value("RULES", "rules loaded (of rule_type, if set)"),
            Value("GROUPS", "rule groups with such rules"),
            Value("ALERTING_RULES", "alerting rules"),
            Value("RECORDING_RULES", "recording rules"),
            Value("UNHEALTHY", "rules whose health is not ok"),
            Value("UNHEALTHY_RULES", "'group/rule: lastError' of each unhealthy rule"),
            Value("MISSING_GROUPS", "required groups that do not exist"),
            Value("MISSING_RULES", "required rules that do not exist"),
            Value("FIRING", "alerts firing now"),
            Value("FIRING_RULES", "alerting rules with firing alerts"),
            Value(
                "CONFIG_RELOAD_OK", "false when the last configuration reload failed (absent if not reported)"
            ),
            Value(
                "CONFIG_LOADED_AT", "when the configuration in use was loaded (runtimeinfo lastConfigTime)"
            ),
        ),
        default_conditions=(
            "[RULES] > 0",
            "[UNHEALTHY] == 0",
            "len([MISSING_GROUPS]) == 0",
            "len([MISSING_RULES]) == 0",
            # Passes where the server does not report reloads: only a reported failure fails.
            "[CONFIG_RELOAD_OK] != false",
        ),
        example={"type": "prometheus_rules", "url": _EXAMPLE_URL, "rule_type": "alert", "groups": ["erp"]},
    )
)
register(
    ProbeType(
        name="prometheus_targets",
        summary="Active scrape targets: up and down, per job; required jobs are scraped.",
        config_model=PrometheusTargetsConfig,
        gather=gather_targets,
        values=(
            Value("TARGETS", "active targets counted"),
            Value("UP", "targets whose last scrape succeeded"),
            Value("DOWN", "targets whose last scrape failed"),
            Value("UNKNOWN", "targets not scraped yet"),
            Value("DOWN_TARGETS", "'job instance: lastError' of each down target"),
            Value("JOBS", "job → {up, down, unknown}", structured=True),
            Value("MISSING_JOBS", "required jobs without an active target"),
            Value(
                "CONFIG_RELOAD_OK", "false when the last configuration reload failed (absent if not reported)"
            ),
            Value(
                "CONFIG_LOADED_AT", "when the configuration in use was loaded (runtimeinfo lastConfigTime)"
            ),
        ),
        default_conditions=(
            "[UP] > 0",
            "[DOWN] == 0",
            "len([MISSING_JOBS]) == 0",
            "[CONFIG_RELOAD_OK] != false",
        ),
        example={"type": "prometheus_targets", "url": _EXAMPLE_URL, "jobs": ["erp-api"]},
    )
)
register(
    ProbeType(
        name="prometheus_retention",
        summary="The TSDB retention in effect (runtimeinfo, else the flags), in days.",
        config_model=PrometheusRetentionConfig,
        gather=gather_retention,
        values=(
            Value("RETENTION_DAYS", "time retention in days; absent when only a size limit applies", "days"),
            Value("RETENTION_SIZE_BYTES", "size limit in bytes, if one is set", "bytes"),
            Value("RETENTION_PERCENT", "limit as a share of the disk, if one is set", "%"),
            Value("RETENTION", "the retention as Prometheus reports it, e.g. '30d or 512MiB'"),
            Value("RETENTION_SOURCE", "runtimeinfo or flags"),
        ),
        default_conditions=("[RETENTION_DAYS] > 0",),
        example={"type": "prometheus_retention", "url": _EXAMPLE_URL},
    )
)
register(
    ProbeType(
        name="prometheus_ready",
        summary="Prometheus answers /-/ready (a 503 means starting or stopping).",
        config_model=PrometheusReadyConfig,
        gather=gather_ready,
        values=(
            Value("READY", "whether /-/ready answered 200"),
            Value("STATUS", "HTTP status of /-/ready"),
            Value("STOPPING", "X-Prometheus-Stopping of a 503: shutting down, not starting"),
            Value("VERSION", "Prometheus version (buildinfo), when ready"),
        ),
        default_conditions=("[READY] == true",),
        example={"type": "prometheus_ready", "url": _EXAMPLE_URL},
    )
)
