"""GO / NO-GO as a pure function: blockers, warnings, staleness, sign-offs and regressions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from golive.checks.loader import loads
from golive.checks.model import Checklist
from golive.checks.probe import Evidence
from golive.checks.results import ItemResult, Records, SignoffRecord, Waiver, fingerprint
from golive.checks.status import Status
from golive.checks.verdict import current_results, decide

from .probes_for_tests import checklist_yaml, sleep_probe

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _sleep_probe() -> Iterator[None]:
    with sleep_probe():
        yield


@pytest.fixture
def checklist() -> Checklist:
    return loads(
        checklist_yaml(
            [
                {"id": "health", "title": "Health", "probe": {"type": "sleep"}},
                {"id": "certs", "title": "Certs", "probe": {"type": "sleep"}, "allow_warn": True},
                {"id": "advice", "title": "Advice", "probe": {"type": "sleep"}, "blocking": False},
                {"id": "load", "title": "Load", "probe": {"type": "sleep"}, "owner": "qa"},
            ],
            signoffs=[
                {"id": "devops", "title": "DevOps-Team", "approvers": {"users": ["U0001"]}},
                {"id": "qa", "title": "QA", "approvers": {"users": ["U0002"]}, "max_age": "2d"},
            ],
        )
    )


def result(item_id: str, status: Status, *, age: timedelta = timedelta(0)) -> ItemResult:
    return ItemResult(
        item_id,
        status,
        status,
        f"{item_id} is {status}",
        1.0,
        NOW - age,
        {},
        Evidence("test", NOW - age),
        raw_message=f"{item_id} is {status}",
    )


def signed(role: str, results: dict[str, ItemResult], at: datetime = NOW, **extra: object) -> SignoffRecord:
    return SignoffRecord(
        role=role,
        user="U0001",
        signed_at=at,
        run_id=1,
        approved={k: r.status for k, r in results.items()},
        fingerprint=fingerprint(results),
        **extra,  # type: ignore[arg-type]
    )


def green() -> dict[str, ItemResult]:
    return {i: result(i, Status.PASS) for i in ("health", "certs", "advice", "load")}


def test_go_when_everything_passes_and_every_role_signed(checklist: Checklist) -> None:
    results = green()
    records = Records(signoffs=(signed("devops", results), signed("qa", results)))
    verdict = decide(checklist, results, records, NOW)
    assert verdict.go and verdict.decision == "GO"
    assert verdict.blockers == ()


def test_missing_signoff_blocks(checklist: Checklist) -> None:
    results = green()
    verdict = decide(checklist, results, Records(signoffs=(signed("devops", results),)), NOW)
    assert not verdict.go
    assert [b.subject for b in verdict.blockers] == ["signoff:qa"]


def test_failing_blocking_item_blocks_non_blocking_does_not(checklist: Checklist) -> None:
    results = {**green(), "health": result("health", Status.FAIL), "advice": result("advice", Status.FAIL)}
    records = Records(signoffs=(signed("devops", green()), signed("qa", green())))
    verdict = decide(checklist, results, records, NOW)
    assert [b.subject for b in verdict.blockers if not b.subject.startswith("signoff:")] == ["health"]


def test_warn_blocks_unless_allowed(checklist: Checklist) -> None:
    records = Records(signoffs=(signed("devops", green()), signed("qa", green())))
    allowed = {**green(), "certs": result("certs", Status.WARN)}
    assert decide(checklist, allowed, records, NOW).go
    not_allowed = {**green(), "health": result("health", Status.WARN)}
    assert [b.subject for b in decide(checklist, not_allowed, records, NOW).blockers] == [
        "health",
        "signoff:devops",
    ]


def test_item_never_run_blocks(checklist: Checklist) -> None:
    results = green()
    del results["load"]
    blockers = decide(checklist, results, Records(), NOW).blockers
    assert ("load", "NOT RUN") in [(b.subject, b.status) for b in blockers]


def test_evidence_goes_stale_between_run_and_status(checklist: Checklist) -> None:
    stored = {**green(), "health": result("health", Status.PASS, age=timedelta(hours=23))}
    fresh = current_results(checklist, stored, Records(), NOW)
    assert fresh["health"].status == Status.PASS
    later = current_results(checklist, stored, Records(), NOW + timedelta(hours=2))
    assert later["health"].status == Status.STALE
    verdict = decide(checklist, later, Records(), NOW + timedelta(hours=2))
    assert ("health", "STALE") in [(b.subject, b.status) for b in verdict.blockers]


def test_waiver_covers_failure_until_expiry(checklist: Checklist) -> None:
    stored = {**green(), "health": result("health", Status.FAIL)}
    waiver = Waiver("health", "known issue TICKET-9", "U0001", NOW, NOW + timedelta(days=1))
    records = Records(waivers=(waiver,), signoffs=(signed("devops", green()), signed("qa", green())))
    assert decide(checklist, current_results(checklist, stored, records, NOW), records, NOW).go
    later = NOW + timedelta(days=2)
    settled = current_results(checklist, stored, records, later)
    assert settled["health"].status == Status.FAIL


def test_signoff_invalidated_by_regression_of_owned_item(checklist: Checklist) -> None:
    approved = green()
    records = Records(signoffs=(signed("devops", approved), signed("qa", approved)))
    regressed = {**approved, "load": result("load", Status.FAIL)}
    verdict = decide(checklist, regressed, records, NOW)
    qa = next(s for s in verdict.signoffs if s.role == "qa")
    devops = next(s for s in verdict.signoffs if s.role == "devops")
    assert not qa.holds and "load (PASS → FAIL)" in qa.reason
    assert devops.holds  # devops does not own "load"


def test_signoff_on_a_failing_item_is_not_a_regression(checklist: Checklist) -> None:
    approved = {**green(), "load": result("load", Status.FAIL)}
    records = Records(signoffs=(signed("qa", approved),))
    qa = next(s for s in decide(checklist, approved, records, NOW).signoffs if s.role == "qa")
    assert qa.holds


def test_revoked_expired_and_invalidated_signoffs_do_not_hold(checklist: Checklist) -> None:
    results = green()
    revoked = signed("devops", results, revoked_at=NOW)
    expired = signed("qa", results, at=NOW - timedelta(days=3))
    states = {
        s.role: s for s in decide(checklist, results, Records(signoffs=(revoked, expired)), NOW).signoffs
    }
    assert not states["devops"].holds and states["devops"].reason == "not signed"
    assert not states["qa"].holds and "older than" in states["qa"].reason
    invalidated = signed("devops", results, invalidated_at=NOW, invalidated_reason="health regressed")
    state = decide(checklist, results, Records(signoffs=(invalidated,)), NOW).signoffs[0]
    assert not state.holds and "health regressed" in state.reason


def test_fingerprint_depends_on_statuses() -> None:
    a = green()
    b = {**a, "health": result("health", Status.FAIL)}
    assert fingerprint(a) == fingerprint(dict(reversed(list(a.items()))))
    assert fingerprint(a) != fingerprint(b)
