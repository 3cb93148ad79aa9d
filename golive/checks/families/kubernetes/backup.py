"""Backups: ``velero_backups`` (Velero custom resources) and ``kube_cronjobs``.

Velero (``velero.io/v1``; reference/probe-protocols.md, section 11):

- Per Schedule, its backups carry ``velero.io/schedule-name=<schedule>``. The newest
  *finished* backup decides: Failed or FailedValidation is a problem, PartiallyFailed
  makes the item WARN (data may be missing). Backups still running are not judged.
  BACKUP_AGE_HOURS counts from the newest Completed or PartiallyFailed backup; the RPO is
  a condition (``[MAX_BACKUP_AGE_HOURS] <= 24``).
- Paused schedules and schedules in FailedValidation are problems; a schedule that never
  produced a backup has no age (null), which fails any age condition.
- Restore tested: RESTORE_AGE_DAYS counts from the newest Completed restore.
- Retention: ``spec.template.ttl`` (a Go duration, ``720h0m0s``). Unset or zero means
  the server's ``--default-backup-ttl``: the backup controller replaces a zero TTL with it,
  and ``velero schedule create`` without ``--ttl`` writes ``0s``. That default is 720h
  unless the server was started otherwise (``default_ttl`` here); the schedule's summary
  says when it applies.
- Offsite: AVAILABLE_LOCATIONS counts BackupStorageLocations in phase Available.

CronJob (``batch/v1``): ``status.lastSuccessfulTime`` is absent until a run succeeded.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from ...clients.kubernetes import (
    CRONJOBS,
    VELERO_BACKUPS,
    VELERO_LOCATIONS,
    VELERO_RESTORES,
    VELERO_SCHEDULES,
    KubeNotFound,
    KubeTarget,
    Obj,
    go_duration,
)
from ...clients.kubernetes import connect as kube_connect
from ...errors import PermanentProbeError
from ...formats.kubernetes import field, hours_between, labels, name, parse_time
from ...probe import Evidence, Observation, ProbeContext, ProbeType, Value, register
from ...status import Status

SCHEDULE_LABEL = "velero.io/schedule-name"
FINISHED = frozenset({"Completed", "PartiallyFailed", "Failed", "FailedValidation"})
USABLE = frozenset({"Completed", "PartiallyFailed"})
#: velero server --default-backup-ttl, when not given.
VELERO_DEFAULT_TTL = "720h"


class VeleroBackupsConfig(KubeTarget):
    type: Literal["velero_backups"] = "velero_backups"
    #: Velero's namespace.
    namespace: str | None = Field(default="velero", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    #: Schedule names; default every Schedule.
    schedules: list[str] = Field(default_factory=list)
    #: The server's ``--default-backup-ttl`` (a Go duration): the TTL of a schedule
    #: whose ttl is unset or 0s.
    default_ttl: str = Field(default=VELERO_DEFAULT_TTL, pattern=r"^([0-9.]+(ns|us|µs|ms|s|m|h))+$")

    @field_validator("default_ttl")
    @classmethod
    def _positive_duration(cls, value: str) -> str:
        if go_duration(value) <= timedelta(0):
            raise ValueError("default_ttl must be longer than 0s, as the server's default is")
        return value


def _started(obj: Obj) -> str:
    return str(field(obj, "status", "startTimestamp") or field(obj, "metadata", "creationTimestamp") or "")


def _ttl(schedule: Obj, default_ttl: str) -> tuple[float | None, bool]:
    """(days, whether the server's default applies) for a schedule's backups."""
    written = field(schedule, "spec", "template", "ttl")
    try:
        ttl = go_duration(written) if isinstance(written, str) and written else timedelta(0)
    except ValueError:
        return None, False
    if ttl > timedelta(0):
        return round(ttl.total_seconds() / 86400, 2), False
    return round(go_duration(default_ttl).total_seconds() / 86400, 2), True


def _schedule_state(
    schedule: Obj, backups: list[Obj], now: datetime, default_ttl: str
) -> tuple[Obj, list[str], str | None]:
    """Summary, problems and a partial-failure note for one schedule."""
    schedule_name = name(schedule)
    own = sorted(
        (b for b in backups if labels(b).get(SCHEDULE_LABEL) == schedule_name), key=_started, reverse=True
    )
    finished = next((b for b in own if field(b, "status", "phase") in FINISHED), None)
    usable = next((b for b in own if field(b, "status", "phase") in USABLE), None)
    completed_at = parse_time(field(usable, "status", "completionTimestamp")) if usable else None
    problems, partial = [], None
    if field(schedule, "spec", "paused"):
        problems.append(f"{schedule_name}: paused")
    if field(schedule, "status", "phase") == "FailedValidation":
        errors = "; ".join(str(e) for e in field(schedule, "status", "validationErrors") or [])
        problems.append(f"{schedule_name}: FailedValidation ({errors})")
    phase = field(finished, "status", "phase") if finished else None
    if finished is None:
        problems.append(f"{schedule_name}: no finished backup")
    elif phase in ("Failed", "FailedValidation"):
        reason = field(finished, "status", "failureReason") or "no reason given"
        problems.append(f"{schedule_name}: newest backup {name(finished)} {phase} ({reason})")
    elif phase == "PartiallyFailed":
        count = field(finished, "status", "errors") or 0
        partial = f"{schedule_name}: newest backup {name(finished)} PartiallyFailed ({count} errors)"
    ttl_days, ttl_is_default = _ttl(schedule, default_ttl)
    summary = {
        "name": schedule_name,
        "schedule": field(schedule, "spec", "schedule"),
        "paused": bool(field(schedule, "spec", "paused")),
        "ttl_days": ttl_days,
        "ttl_is_default": ttl_is_default,
        "newest_backup": name(finished) if finished else None,
        "newest_phase": phase,
        "backup_age_hours": hours_between(completed_at, now) if completed_at else None,
    }
    return summary, problems, partial


def _restore_state(restores: list[Obj], now: datetime) -> tuple[float | None, Obj | None]:
    completed = [
        (when, restore)
        for restore in restores
        if field(restore, "status", "phase") == "Completed"
        and (when := parse_time(field(restore, "status", "completionTimestamp"))) is not None
    ]
    if not completed:
        return None, None
    when, restore = max(completed, key=lambda pair: pair[0])
    age = round((now - when).total_seconds() / 86400, 2)
    return age, {
        "name": name(restore),
        "completed": when.isoformat(),
        "backup": field(restore, "spec", "backupName"),
    }


async def gather_velero(config: VeleroBackupsConfig, context: ProbeContext) -> Observation:
    try:
        async with kube_connect(config, context) as kube:
            schedules, backups, restores, locations = await asyncio.gather(
                kube.objects(VELERO_SCHEDULES),
                kube.objects(VELERO_BACKUPS),
                kube.objects(VELERO_RESTORES),
                kube.objects(VELERO_LOCATIONS),
            )
            source = kube.source()
    except KubeNotFound as exc:
        raise PermanentProbeError(f"{exc.message}; is Velero installed (velero.io/v1)?") from None
    known = {name(s): s for s in schedules}
    missing = [s for s in config.schedules if s not in known]
    if missing:
        raise PermanentProbeError(f"{source}: no Velero Schedule {', '.join(missing)}")
    now = context.now()
    chosen = [known[s] for s in config.schedules] if config.schedules else sorted(schedules, key=name)
    summaries, problems, partial = [], [], []
    for schedule in chosen:
        summary, found, note = _schedule_state(schedule, backups, now, config.default_ttl)
        summaries.append(summary)
        problems += found
        partial += [note] if note else []
    ages = [s["backup_age_hours"] for s in summaries]
    restore_age, last_restore = _restore_state(restores, now)
    ttls = [s["ttl_days"] for s in summaries if s["ttl_days"] is not None]
    available = sorted(name(loc) for loc in locations if field(loc, "status", "phase") == "Available")
    values: dict[str, Any] = {
        "SCHEDULES": summaries,
        "SCHEDULE_PROBLEMS": problems,
        "PARTIALLY_FAILED": partial,
        "MAX_BACKUP_AGE_HOURS": None if not ages or None in ages else max(ages),
        "RESTORE_AGE_DAYS": restore_age,
        "LAST_RESTORE": last_restore,
        "MIN_TTL_DAYS": min(ttls) if ttls else None,
        "AVAILABLE_LOCATIONS": len(available),
        "LOCATIONS": {name(loc): field(loc, "status", "phase") for loc in locations},
    }
    oldest = values["MAX_BACKUP_AGE_HOURS"]
    freshness = (
        f"newest backups at most {oldest} h old" if oldest is not None else "a schedule has no usable backup"
    )
    parts = [f"{len(summaries)} schedule(s), {freshness}"]
    parts += problems + partial
    parts.append(
        f"last restore {restore_age} days ago" if restore_age is not None else "no completed restore"
    )
    parts.append(f"{len(available)} storage location(s) available")
    for schedule in chosen:
        summary = next(s for s in summaries if s["name"] == name(schedule))
        if summary["ttl_is_default"]:
            written = field(schedule, "spec", "template", "ttl") or "unset"
            parts.append(f"{summary['name']}: TTL {written}, the server's default {config.default_ttl}")
    return Observation(
        values=values,
        evidence=Evidence(source, now),
        status=Status.WARN if partial else None,
        message="; ".join(parts),
    )


VELERO_BACKUPS_PROBE = register(
    ProbeType(
        name="velero_backups",
        summary="Velero: newest backup per schedule finished and fresh, restore tested, TTL, "
        "available storage locations.",
        config_model=VeleroBackupsConfig,
        gather=gather_velero,
        values=(
            Value(
                "SCHEDULES",
                "per schedule: cron, paused, ttl_days (effective), ttl_is_default, newest backup, phase, age",
                structured=True,
            ),
            Value("SCHEDULE_PROBLEMS", "paused, invalid, never backed up, or newest backup failed"),
            Value("PARTIALLY_FAILED", "schedules whose newest backup is PartiallyFailed (the item WARNs)"),
            Value("MAX_BACKUP_AGE_HOURS", "age of the stalest schedule's newest usable backup", "h"),
            Value("RESTORE_AGE_DAYS", "days since the newest Completed restore", "days"),
            Value("LAST_RESTORE", "name, completed, backup of the newest Completed restore", structured=True),
            Value(
                "MIN_TTL_DAYS",
                "shortest effective backup TTL among the schedules (unset or 0s: the server default)",
                "days",
            ),
            Value("AVAILABLE_LOCATIONS", "BackupStorageLocations in phase Available"),
            Value("LOCATIONS", "BackupStorageLocation → phase", structured=True),
        ),
        default_conditions=(
            "len([SCHEDULES]) > 0",
            "len([SCHEDULE_PROBLEMS]) == 0",
            "[MAX_BACKUP_AGE_HOURS] <= 24",
        ),
        reading=(
            (
                "Per schedule, the newest finished backup decides (Failed fails, PartiallyFailed warns); "
                "running backups are not judged."
            ),
            (
                "A TTL that is unset or `0s` is the server's `--default-backup-ttl`: the backup "
                "controller replaces a zero TTL, and `velero schedule create` without `--ttl` writes "
                "`0s`. `default_ttl` says what the server was started with (720h unless set); "
                "ttl_is_default marks such schedules."
            ),
        ),
        example={"type": "velero_backups", "kubeconfig": "~/.kube/config", "schedules": ["daily"]},
    )
)


# --- kube_cronjobs --------------------------------------------------------------------


class KubeCronJobsConfig(KubeTarget):
    type: Literal["kube_cronjobs"] = "kube_cronjobs"
    #: CronJob names; default every CronJob of the namespace.
    cronjobs: list[str] = Field(default_factory=list)


async def gather_cronjobs(config: KubeCronJobsConfig, context: ProbeContext) -> Observation:
    async with kube_connect(config, context) as kube:
        if config.cronjobs:
            found = await asyncio.gather(*(kube.get(CRONJOBS, n) for n in config.cronjobs))
        else:
            found = await kube.objects(CRONJOBS)
        source = kube.source()
    now = context.now()
    summaries, never, suspended = [], [], []
    for cronjob in sorted(found, key=name):
        succeeded = parse_time(field(cronjob, "status", "lastSuccessfulTime"))
        if succeeded is None:
            never.append(name(cronjob))
        if field(cronjob, "spec", "suspend"):
            suspended.append(name(cronjob))
        summaries.append(
            {
                "name": name(cronjob),
                "schedule": field(cronjob, "spec", "schedule"),
                "suspended": bool(field(cronjob, "spec", "suspend")),
                "last_schedule": field(cronjob, "status", "lastScheduleTime"),
                "last_success": succeeded.isoformat() if succeeded else None,
                "hours_since_success": hours_between(succeeded, now) if succeeded else None,
                "active": len(field(cronjob, "status", "active") or []),
            }
        )
    hours = [s["hours_since_success"] for s in summaries]
    values: dict[str, Any] = {
        "CRONJOBS": summaries,
        "NEVER_SUCCEEDED": never,
        "SUSPENDED": suspended,
        "MAX_HOURS_SINCE_SUCCESS": None if not hours or None in hours else max(hours),
    }
    stalest = values["MAX_HOURS_SINCE_SUCCESS"]
    freshness = (
        f"last success at most {stalest} h ago" if stalest is not None else "not every one has succeeded"
    )
    parts = [f"{len(summaries)} CronJob(s), {freshness}"]
    if never:
        parts.append(f"never succeeded: {', '.join(never)}")
    if suspended:
        parts.append(f"suspended: {', '.join(suspended)}")
    return Observation(values=values, evidence=Evidence(source, now), message="; ".join(parts))


KUBE_CRONJOBS = register(
    ProbeType(
        name="kube_cronjobs",
        summary="CronJobs (a backup job, say) succeeded recently: status.lastSuccessfulTime.",
        config_model=KubeCronJobsConfig,
        gather=gather_cronjobs,
        values=(
            Value(
                "CRONJOBS",
                "per CronJob: schedule, suspended, last schedule/success, hours, active",
                structured=True,
            ),
            Value("NEVER_SUCCEEDED", "CronJobs without a lastSuccessfulTime"),
            Value("SUSPENDED", "suspended CronJobs"),
            Value("MAX_HOURS_SINCE_SUCCESS", "hours since the stalest CronJob last succeeded", "h"),
        ),
        default_conditions=(
            "len([CRONJOBS]) > 0",
            "len([NEVER_SUCCEEDED]) == 0",
            "len([SUSPENDED]) == 0",
            "[MAX_HOURS_SINCE_SUCCESS] <= 26",
        ),
        reading=(
            ("`status.lastSuccessfulTime` is absent until a run succeeded: never succeeded, not zero hours."),
        ),
        example={
            "type": "kube_cronjobs",
            "kubeconfig": "~/.kube/config",
            "namespace": "valeo",
            "cronjobs": ["pg-backup"],
        },
    )
)
