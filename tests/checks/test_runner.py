"""The runner: concurrency, timeouts, isolation, dependencies, manual items, staleness."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from golive.checks.evaluate import evaluate_observation
from golive.checks.loader import loads
from golive.checks.probe import Evidence, Observation, probe_type
from golive.checks.results import Confirmation, ItemResult, Records, Waiver
from golive.checks.runner import run_checklist
from golive.checks.status import Status

from .probes_for_tests import ATTEMPTS, checklist_yaml, sleep_probe


@pytest.fixture(autouse=True)
def _sleep_probe() -> Iterator[None]:
    with sleep_probe():
        yield


def item(item_id: str, **probe: object) -> dict[str, object]:
    return {"id": item_id, "title": item_id.upper(), "probe": {"type": "sleep", **probe}}


async def test_probes_run_concurrently() -> None:
    checklist = loads(checklist_yaml([item(f"i{n}", seconds=0.3) for n in range(20)]))
    started = time.perf_counter()
    outcome = await run_checklist(checklist)
    elapsed = time.perf_counter() - started
    assert all(r.status == Status.PASS for r in outcome.results.values())
    assert elapsed < 1.5, f"20 probes of 0.3 s took {elapsed:.2f} s: not concurrent"


async def test_concurrency_is_bounded() -> None:
    checklist = loads(
        checklist_yaml([item(f"i{n}", seconds=0.2) for n in range(6)], defaults={"concurrency": 2})
    )
    started = time.perf_counter()
    await run_checklist(checklist)
    assert time.perf_counter() - started >= 0.55  # three waves of two


async def test_hanging_probe_is_cut_at_its_timeout_and_others_finish() -> None:
    checklist = loads(
        checklist_yaml(
            [
                {**item("hangs", seconds=60), "timeout": "0.3s"},
                item("fine", seconds=0.01),
            ]
        )
    )
    started = time.perf_counter()
    outcome = await run_checklist(checklist)
    assert time.perf_counter() - started < 2
    hangs = outcome.results["hangs"]
    assert hangs.status == Status.ERROR
    assert "timed out after 0.3s" in hangs.message
    assert outcome.results["fine"].status == Status.PASS


async def test_crashing_probe_is_an_error_for_itself_only() -> None:
    checklist = loads(checklist_yaml([item("crash", crash=True), item("fine")]))
    outcome = await run_checklist(checklist)
    assert outcome.results["crash"].status == Status.ERROR
    assert "RuntimeError: boom" in outcome.results["crash"].message
    assert outcome.results["fine"].status == Status.PASS


async def test_probe_error_message_is_kept() -> None:
    checklist = loads(checklist_yaml([item("bad", fail_with="HTTP 401, not authorised")]))
    result = (await run_checklist(checklist)).results["bad"]
    assert (result.status, result.message) == (Status.ERROR, "HTTP 401, not authorised")


async def test_failing_condition_message_shows_value_and_limit() -> None:
    checklist = loads(checklist_yaml([{**item("slow", value=612), "conditions": ["[VALUE] < 500"]}]))
    result = (await run_checklist(checklist)).results["slow"]
    assert result.status == Status.FAIL
    assert result.message == "[VALUE] = 612 ms, limit < 500 ms"
    assert result.observed["VALUE"] == 612


async def test_warn_conditions_give_warn() -> None:
    checklist = loads(
        checklist_yaml(
            [{**item("w", value=300), "conditions": ["[VALUE] < 500"], "warn_conditions": ["[VALUE] < 200"]}]
        )
    )
    assert (await run_checklist(checklist)).results["w"].status == Status.WARN


async def test_dependency_failure_skips_dependents() -> None:
    checklist = loads(
        checklist_yaml(
            [
                {**item("base", value=1000)},
                {**item("child"), "depends_on": ["base"]},
                {**item("grandchild"), "depends_on": ["child"]},
                {**item("independent")},
            ]
        )
    )
    results = (await run_checklist(checklist)).results
    assert results["base"].status == Status.FAIL
    assert results["child"].status == Status.SKIPPED
    assert "depends on base, which is FAIL" in results["child"].message
    assert results["grandchild"].status == Status.SKIPPED
    assert results["independent"].status == Status.PASS


async def test_a_skipped_item_still_shows_its_own_observed_value() -> None:
    checklist = loads(
        checklist_yaml(
            [
                {**item("base", value=1000)},
                {**item("measured", value=42), "depends_on": ["base"]},
                {**item("broken", fail_with="no such report"), "depends_on": ["base"]},
            ]
        )
    )
    results = (await run_checklist(checklist)).results
    measured = results["measured"]
    assert measured.status == Status.SKIPPED
    assert measured.message == (
        "depends on base, which is FAIL; on its own: PASS, [VALUE] = 42 ms, limit < 100 ms"
    )
    assert measured.observed["VALUE"] == 42
    assert measured.evidence is not None
    # Nothing observed: the dependency alone explains the skip.
    broken = results["broken"]
    assert broken.status == Status.SKIPPED
    assert broken.message == "depends on base, which is FAIL"
    assert broken.observed == {}


async def test_dependency_passing_lets_dependents_run_after_it() -> None:
    checklist = loads(checklist_yaml([{**item("child"), "depends_on": ["base"]}, item("base", seconds=0.2)]))
    results = (await run_checklist(checklist)).results
    assert results["child"].status == Status.PASS
    assert results["child"].checked_at >= results["base"].checked_at


async def test_old_evidence_is_stale() -> None:
    checklist = loads(checklist_yaml([{**item("old", observed_days_ago=3), "max_age": "2d"}]))
    result = (await run_checklist(checklist)).results["old"]
    assert result.status == Status.STALE
    assert result.raw_status == Status.PASS
    assert "older than the 2.0d allowed" in result.message


async def test_waiver_turns_failure_into_waived_until_it_expires() -> None:
    checklist = loads(checklist_yaml([item("bad", value=1000)]))
    now = datetime.now(UTC)
    active = Waiver(
        "bad", "accepted risk, TICKET-1", "U0001", now - timedelta(hours=1), now + timedelta(days=1)
    )
    result = (await run_checklist(checklist, records=Records(waivers=(active,)))).results["bad"]
    assert result.status == Status.WAIVED and result.raw_status == Status.FAIL
    assert "TICKET-1" in result.message
    expired = Waiver("bad", "old", "U0001", now - timedelta(days=3), now - timedelta(days=1))
    result = (await run_checklist(checklist, records=Records(waivers=(expired,)))).results["bad"]
    assert result.status == Status.FAIL


async def test_manual_item_pending_until_confirmed() -> None:
    checklist = loads(
        checklist_yaml([{"id": "runbook", "title": "Runbook erstellt", "probe": {"type": "manual"}}])
    )
    pending = (await run_checklist(checklist)).results["runbook"]
    assert pending.status == Status.PENDING
    assert "devops" in pending.message
    confirmation = Confirmation("runbook", "U0001", datetime.now(UTC), "https://wiki.example/runbook")
    done = (await run_checklist(checklist, records=Records(confirmations=(confirmation,)))).results["runbook"]
    assert done.status == Status.PASS
    assert done.evidence is not None and done.evidence.link == "https://wiki.example/runbook"


async def test_unset_variable_gives_error_naming_it() -> None:
    checklist = loads(checklist_yaml([item("needs-env", seconds="${GOLIVE_TEST_SECONDS}")]), env={})
    result = (await run_checklist(checklist)).results["needs-env"]
    assert result.status == Status.ERROR
    assert result.message == "not configured: set GOLIVE_TEST_SECONDS"
    configured = loads(
        checklist_yaml([item("needs-env", seconds="${GOLIVE_TEST_SECONDS}")]),
        env={"GOLIVE_TEST_SECONDS": "0.01"},
    )
    assert (await run_checklist(configured)).results["needs-env"].status == Status.PASS


async def test_phase_selection_and_progress_callback() -> None:
    text = checklist_yaml([item("a")])
    extra_phase = (
        "phases:\n- id: p0\n  title: P0\n  sections:\n  - id: s0\n    title: S0\n    items:\n"
        "    - {id: z, title: Z, probe: {type: sleep}}\n"
    )
    checklist = loads(text.replace("phases:\n", extra_phase, 1))
    seen: list[str] = []

    async def on_result(result: ItemResult) -> None:
        seen.append(result.item_id)

    outcome = await run_checklist(checklist, phase="p1", on_result=on_result)
    assert list(outcome.results) == ["a"] and seen == ["a"]
    with pytest.raises(ValueError, match="no phase 'nope'"):
        await run_checklist(checklist, phase="nope")


def _outcome_message(conditions: list[str], warn: list[str], values: dict[str, object]) -> tuple[Status, str]:
    probe = {"type": "prometheus_query", "url": "http://127.0.0.1:9090", "query": "up"}
    checklist = loads(
        checklist_yaml(
            [{"id": "q", "title": "q", "probe": probe, "conditions": conditions, "warn_conditions": warn}]
        )
    )
    item = checklist.item("q")
    kind = probe_type(item.probe_type)
    status, message, _ = evaluate_observation(
        item, kind, Observation(values=values, evidence=Evidence("q", datetime.now(UTC))), {}
    )
    return status, message


def test_a_condition_over_a_value_never_observed_is_not_listed_beside_the_one_that_explains_it() -> None:
    # No series: VALUE cannot exist; [SERIES] > 0 says why.
    status, message = _outcome_message(["[SERIES] > 0", "[VALUE] < 1"], ["[VALUE] < 0.5"], {"SERIES": 0})
    assert status == Status.FAIL
    assert message == "[SERIES] = 0, limit > 0"
    # Alone, the missing value is the explanation: it is listed.
    status, message = _outcome_message(["[VALUE] < 1"], [], {"SERIES": 0})
    assert (status, message) == (Status.FAIL, "[VALUE] = (not observed), limit < 1")
    # A failure over a missing value is not hidden behind a mere warning.
    status, message = _outcome_message(["[VALUE] < 1"], ["[SERIES] > 1"], {"SERIES": 0})
    assert status == Status.FAIL
    assert message == "[VALUE] = (not observed), limit < 1; [SERIES] = 0, limit > 1"


async def test_a_temporary_error_is_tried_again_within_the_timeout_budget() -> None:
    checklist = loads(checklist_yaml([item("blinks", temporary_failures=2)]))
    result = (await run_checklist(checklist)).results["blinks"]
    assert result.status == Status.PASS, result.message
    assert result.observed["ATTEMPT"] == 3
    assert "TEMPORARY" not in result.observed


async def test_a_temporary_error_that_stays_is_reported_after_the_last_attempt() -> None:
    checklist = loads(checklist_yaml([item("down", temporary_failures=10)]))
    started = time.perf_counter()
    result = (await run_checklist(checklist)).results["down"]
    assert result.status == Status.ERROR
    assert result.message == "blinked on attempt 3"
    assert result.observed == {"TEMPORARY": True}
    assert time.perf_counter() - started < 5, "reported once the attempts are spent, not at the timeout"


async def test_retries_stop_where_the_budget_ends() -> None:
    # 1 s: the second attempt starts at 0.5 s; a third (after 1 s more) would not fit.
    checklist = loads(checklist_yaml([{**item("down", temporary_failures=10), "timeout": "1s"}]))
    result = (await run_checklist(checklist)).results["down"]
    assert result.message == "blinked on attempt 2", result.message
    assert result.observed == {"TEMPORARY": True}


async def test_a_permanent_error_is_not_tried_again() -> None:
    checklist = loads(checklist_yaml([item("wrong", fail_with="not authorised")]))
    result = (await run_checklist(checklist)).results["wrong"]
    assert result.status == Status.ERROR and result.message == "not authorised"
    assert "TEMPORARY" not in result.observed
    assert ATTEMPTS[id(checklist.item("wrong").config)] == 1
