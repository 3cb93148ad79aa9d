"""``velero_backups`` and ``kube_cronjobs`` against the fake API server, as of 2025-06-02 12:00 UTC."""

from __future__ import annotations

from golive.checks.status import Status

from .support import Kube, run_one

SEED_BACKUP_CONDITIONS = [
    "len([SCHEDULE_PROBLEMS]) == 0",
    "[MAX_BACKUP_AGE_HOURS] <= 24",
    "[RESTORE_AGE_DAYS] <= 30",
    "[MIN_TTL_DAYS] >= 30",
    "[AVAILABLE_LOCATIONS] >= 2",
]


async def test_fresh_backups_a_recent_restore_and_an_offsite_location(kube: Kube) -> None:
    result = await run_one(kube.probe("velero_backups", "healthy"), conditions=SEED_BACKUP_CONDITIONS)
    assert result.status == Status.PASS, result.message
    observed = result.observed
    schedules = {s["name"]: s for s in observed["SCHEDULES"]}
    assert schedules["daily"]["newest_backup"] == "daily-20250602020000"
    assert schedules["daily"]["backup_age_hours"] == 9.8  # completed 02:12
    # The 12:00 backup is still running; the 11:04 one counts.
    assert schedules["db-hourly"]["newest_backup"] == "db-hourly-20250602110000"
    assert schedules["db-hourly"]["backup_age_hours"] == 0.93
    assert schedules["db-hourly"]["ttl_days"] == 30.0  # Velero's default, no ttl written
    assert observed["MAX_BACKUP_AGE_HOURS"] == 9.8
    # The newer drill failed; the newest Completed restore is the one that counts.
    assert observed["RESTORE_AGE_DAYS"] == 13.08
    assert observed["LAST_RESTORE"]["name"] == "restore-drill-20250520"
    assert observed["MIN_TTL_DAYS"] == 30.0
    assert observed["AVAILABLE_LOCATIONS"] == 2


async def test_partially_failed_newest_backup_warns(kube: Kube) -> None:
    result = await run_one(kube.probe("velero_backups", "broken", schedules=["daily"]))
    assert result.status == Status.WARN
    assert result.observed["PARTIALLY_FAILED"] == [
        "daily: newest backup daily-20250602020000 PartiallyFailed (3 errors)"
    ]
    assert result.observed["MAX_BACKUP_AGE_HOURS"] == 9.67  # the partial backup still counts for age
    assert "PartiallyFailed (3 errors)" in result.message


async def test_failed_paused_and_never_backed_up_schedules_fail(kube: Kube) -> None:
    result = await run_one(kube.probe("velero_backups", "broken"))
    assert result.status == Status.FAIL
    assert result.observed["SCHEDULE_PROBLEMS"] == [
        "monthly: paused",
        "monthly: no finished backup",
        "weekly: newest backup weekly-20250601030000 Failed "
        "(rpc error: code = Unavailable desc = connection refused)",
    ]
    schedules = {s["name"]: s for s in result.observed["SCHEDULES"]}
    assert schedules["weekly"]["backup_age_hours"] == 200.5  # the Completed one before the failure
    assert result.observed["MAX_BACKUP_AGE_HOURS"] is None  # monthly has none at all
    assert "[MAX_BACKUP_AGE_HOURS] = null, limit <= 24 h" in result.message


async def test_an_old_restore_short_ttl_and_one_location(kube: Kube) -> None:
    result = await run_one(
        kube.probe("velero_backups", "broken", schedules=["daily"]), conditions=SEED_BACKUP_CONDITIONS
    )
    assert result.status == Status.FAIL
    assert result.observed["RESTORE_AGE_DAYS"] == 62.5
    assert result.observed["LOCATIONS"] == {"default": "Available", "offsite": "Unavailable"}
    assert "[RESTORE_AGE_DAYS] = 62.5 days, limit <= 30 days" in result.message
    assert "[MIN_TTL_DAYS] = 7 days, limit >= 30 days" in result.message
    assert "[AVAILABLE_LOCATIONS] = 1, limit >= 2" in result.message


async def test_velero_not_installed(kube: Kube) -> None:
    result = await run_one(kube.probe("velero_backups", "degraded"))
    assert result.status == Status.ERROR
    assert "the server could not find the requested resource" in result.message
    assert result.message.endswith("is Velero installed (velero.io/v1)?")


async def test_backup_cronjob_succeeded_recently(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_cronjobs", "healthy", namespace="valeo", cronjobs=["pg-dump"]))
    assert result.status == Status.PASS, result.message
    assert result.observed["MAX_HOURS_SINCE_SUCCESS"] == 8.93
    assert result.observed["CRONJOBS"][0]["last_success"] == "2025-06-02T03:04:00+00:00"


async def test_cronjob_whose_last_success_is_old(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_cronjobs", "broken", namespace="valeo", cronjobs=["pg-dump"]))
    assert result.status == Status.FAIL
    assert "[MAX_HOURS_SINCE_SUCCESS] = 80.93 h, limit <= 26 h" in result.message


async def test_cronjob_that_never_succeeded_and_is_suspended(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_cronjobs", "broken", namespace="valeo"))
    assert result.status == Status.FAIL
    assert result.observed["NEVER_SUCCEEDED"] == ["report-export"]
    assert result.observed["SUSPENDED"] == ["report-export"]
    assert result.observed["MAX_HOURS_SINCE_SUCCESS"] is None
    assert "never succeeded: report-export; suspended: report-export" in result.message


async def test_a_zero_ttl_is_the_servers_default_retention(kube: Kube) -> None:
    result = await run_one(kube.probe("velero_backups", "subtle"), conditions=["[MIN_TTL_DAYS] >= 30"])
    assert result.status == Status.PASS, result.message
    schedules = {s["name"]: s for s in result.observed["SCHEDULES"]}
    # velero schedule create without --ttl writes 0s: the server keeps backups 720h.
    assert (schedules["nightly"]["ttl_days"], schedules["nightly"]["ttl_is_default"]) == (30.0, True)
    assert (schedules["weekly"]["ttl_days"], schedules["weekly"]["ttl_is_default"]) == (90.0, False)
    assert result.observed["MIN_TTL_DAYS"] == 30.0
    assert "nightly: TTL 0s, the server's default 720h" in result.message


async def test_the_servers_default_ttl_is_configurable(kube: Kube) -> None:
    result = await run_one(
        kube.probe("velero_backups", "subtle", default_ttl="240h"), conditions=["[MIN_TTL_DAYS] >= 30"]
    )
    assert result.status == Status.FAIL
    assert result.observed["MIN_TTL_DAYS"] == 10.0
    assert "nightly: TTL 0s, the server's default 240h" in result.message
