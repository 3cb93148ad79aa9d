"""What people record, and the audit trail it leaves, on every backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from golive.checks.results import Confirmation, Records, SignoffRecord, Waiver
from golive.checks.status import Status
from golive.storage import AlertState, Note, Store

from .helpers import T0, new_run, result


def signoff(role: str = "devops", user: str = "U-alice", minutes: int = 0) -> SignoffRecord:
    return SignoffRecord(
        role=role,
        user=user,
        signed_at=T0 + timedelta(minutes=minutes),
        run_id=None,
        approved={"p1.images.built": Status.PASS, "p1.security.cves": Status.WAIVED},
        fingerprint="0123456789abcdef",
    )


async def actions(store: Store) -> list[str]:
    return [entry.action for entry in await store.audit_log()]


async def test_confirmations_are_recorded_revoked_and_audited(store: Store) -> None:
    release = await store.release_id("r", "1")
    first = Confirmation("runbook", "U-bob", T0, "https://wiki.example/runbook", "reviewed")
    second = Confirmation("runbook", "U-carol", T0 + timedelta(hours=1))
    await store.add_confirmation(release, first, actor="U-bob")
    await store.add_confirmation(release, second, actor="U-dave")
    await store.add_confirmation(release, Confirmation("team", "U-bob", T0), actor="U-bob")

    records = await store.records(release)
    assert records.confirmations == (first, Confirmation("team", "U-bob", T0), second)
    assert records.confirmation("runbook") == second

    at = T0 + timedelta(hours=2)
    assert await store.revoke_confirmation(release, "runbook", by="U-erin", at=at)
    assert not await store.revoke_confirmation(release, "runbook", by="U-erin", at=at)
    after = await store.records(release)
    assert after.confirmation("runbook") is None
    assert after.confirmation("team") is not None

    log = await store.audit_log()
    assert [e.action for e in log] == [
        "confirmation.revoke", "confirmation.add", "confirmation.add", "confirmation.add",
    ]
    assert (log[0].actor, log[0].at, log[0].subject) == ("U-erin", at, "r 1: runbook")
    assert log[-1].details == {
        "release_id": release, "item_id": "runbook", "user": "U-bob",
        "evidence_url": "https://wiki.example/runbook", "comment": "reviewed",
    }
    # The actor clicked for someone else: both are kept.
    assert any(e.actor == "U-dave" and e.details["user"] == "U-carol" for e in log)


async def test_waivers_are_kept_until_revoked_even_when_expired(store: Store) -> None:
    release = await store.release_id("r", "1")
    expired = Waiver("cves", "vendor fix pending", "U-sec", T0, T0 + timedelta(hours=1))
    current = Waiver("size", "base image", "U-sec", T0, T0 + timedelta(days=7))
    expired_id = await store.add_waiver(release, expired)
    current_id = await store.add_waiver(release, current)
    assert expired_id != current_id

    # Expiry is decided by the verdict as of its own "now", not by the store.
    assert set((await store.records(release)).waivers) == {expired, current}

    other = await store.release_id("r", "2")
    assert not await store.revoke_waiver(other, current_id, by="U-x", at=T0)
    assert await store.revoke_waiver(release, current_id, by="U-sec", at=T0)
    assert not await store.revoke_waiver(release, current_id, by="U-sec", at=T0)
    assert (await store.records(release)).waivers == (expired,)

    log = await store.audit_log()
    assert [e.action for e in log][:1] == ["waiver.revoke"]
    added = [e for e in log if e.action == "waiver.add"]
    assert {e.details["waiver_id"] for e in added} == {expired_id, current_id}
    assert {e.details["expires_at"] for e in added} == {expired.expires_at, current.expires_at}


async def test_signoff_round_trips(store: Store) -> None:
    release = await store.release_id("r", "1")
    run = await new_run(store, release, T0, ("P1", result("a")))
    record = SignoffRecord("security", "U-sec", T0, run, {"a": Status.PASS}, "fp")
    assert await store.add_signoff(release, record)
    assert await store.signoffs(release) == [record]
    assert (await store.records(release)).signoffs == (record,)


async def test_a_concurrent_double_click_signs_once(store: Store) -> None:
    release = await store.release_id("r", "1")

    outcomes = await asyncio.gather(*(store.add_signoff(release, signoff()) for _ in range(5)))

    assert sorted(outcomes) == [False, False, False, False, True]
    assert await store.signoffs(release) == [signoff()]
    assert await actions(store) == ["signoff.add"], "a refused sign-off writes nothing"


async def test_the_database_allows_one_active_signoff_per_role(store: Store) -> None:
    """The rule holds in the schema itself, not only in add_signoff's upsert."""
    release = await store.release_id("r", "1")
    assert await store.add_signoff(release, signoff())
    insert = text(
        "INSERT INTO signoffs (release_id, role, \"user\", signed_at, approved, fingerprint) "
        "VALUES (:release, 'devops', 'U-mallory', :at, '{}', 'x')"
    )
    with pytest.raises(IntegrityError):
        async with store.engine.begin() as connection:
            await connection.execute(insert, {"release": release, "at": T0})


async def test_revoke_then_sign_again(store: Store) -> None:
    release = await store.release_id("r", "1")
    assert await store.add_signoff(release, signoff(user="U-alice"))
    assert await store.add_signoff(release, signoff("security", "U-sec"))
    assert not await store.revoke_signoff(release, "operations", by="U-ops", at=T0)

    revoked_at = T0 + timedelta(minutes=5)
    assert await store.revoke_signoff(release, "devops", by="U-alice", at=revoked_at)
    assert not await store.revoke_signoff(release, "devops", by="U-alice", at=revoked_at)
    assert await store.add_signoff(release, signoff(user="U-bob", minutes=10))

    history = [(s.role, s.user, s.revoked_at) for s in await store.signoffs(release)]
    assert history == [
        ("devops", "U-bob", None),
        ("security", "U-sec", None),
        ("devops", "U-alice", revoked_at),
    ]
    assert await actions(store) == ["signoff.add", "signoff.revoke", "signoff.add", "signoff.add"]
    revoke = (await store.audit_log())[1]
    assert (revoke.actor, revoke.subject, revoke.details["role"]) == ("U-alice", "r 1: devops",
                                                                      "devops")


async def test_an_invalidated_signoff_is_history_and_the_role_may_sign_again(
    store: Store,
) -> None:
    release = await store.release_id("r", "1")
    assert await store.add_signoff(release, signoff())
    at = T0 + timedelta(hours=1)
    reason = "p1.images.built regressed (PASS → FAIL)"

    assert await store.invalidate_signoff(release, "devops", reason=reason, at=at)
    assert not await store.invalidate_signoff(release, "devops", reason=reason, at=at)
    assert not await store.revoke_signoff(release, "devops", by="U-alice", at=at)

    [invalidated] = await store.signoffs(release)
    assert (invalidated.invalidated_at, invalidated.invalidated_reason) == (at, reason)
    assert invalidated.revoked_at is None
    entry = (await store.audit_log())[0]
    assert (entry.action, entry.actor, entry.details["reason"]) == (
        "signoff.invalidate", "golive", reason
    )
    assert await store.add_signoff(release, signoff(minutes=90))
    assert len(await store.signoffs(release)) == 2


async def test_signoffs_of_one_release_do_not_block_another(store: Store) -> None:
    first, second = await store.release_id("r", "1"), await store.release_id("r", "2")
    assert await store.add_signoff(first, signoff())
    assert await store.add_signoff(second, signoff())
    assert await store.revoke_signoff(second, "devops", by="U-alice", at=T0)
    assert (await store.signoffs(first))[0].revoked_at is None


async def test_notes_are_listed_oldest_first(store: Store) -> None:
    release = await store.release_id("r", "1")
    late = await store.add_note(release, author="U-bob", text="Go at 18:00", at=T0 + timedelta(1))
    early = await store.add_note(release, author="U-amy", text="Freeze ab Montag", at=T0)
    assert await store.notes(release) == [
        Note(early, "U-amy", "Freeze ab Montag", T0),
        Note(late, "U-bob", "Go at 18:00", T0 + timedelta(1)),
    ]
    assert await store.notes(await store.release_id("r", "2")) == []
    assert await actions(store) == ["note.add", "note.add"]


async def test_audit_log_is_newest_first_and_limited(store: Store) -> None:
    for minute in range(3):
        await store.audit(
            actor="U-ops", action="run.start", subject="r 1",
            details={"minute": minute, "when": T0}, at=T0 + timedelta(minutes=minute),
        )
    entries = await store.audit_log(limit=2)
    assert [e.details["minute"] for e in entries] == [2, 1]
    assert entries[0].details["when"] == T0
    assert entries[0].at == T0 + timedelta(minutes=2)


async def test_audit_log_is_append_only_in_the_database(store: Store) -> None:
    await store.audit(actor="U-ops", action="x", subject="y", details={}, at=T0)
    for statement in ("UPDATE audit_log SET actor = 'U-mallory'", "DELETE FROM audit_log"):
        with pytest.raises(IntegrityError, match="append-only"):
            async with store.engine.begin() as connection:
                await connection.execute(text(statement))
    [entry] = await store.audit_log()
    assert entry.actor == "U-ops"


async def test_a_change_and_its_audit_entry_commit_together(store: Store) -> None:
    """With the audit log refusing inserts, the change it would describe is not kept."""
    release = await store.release_id("r", "1")
    refuse = {
        "sqlite": "CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
                  "BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
        "postgresql": "CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
                      "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    }[store.engine.dialect.name]
    async with store.engine.begin() as connection:
        await connection.execute(text(refuse))

    with pytest.raises(IntegrityError):
        await store.add_signoff(release, signoff())
    with pytest.raises(IntegrityError):
        await store.add_note(release, author="U-bob", text="lost?", at=T0)
    with pytest.raises(IntegrityError):
        await store.add_confirmation(release, Confirmation("a", "U-bob", T0), actor="U-bob")
    with pytest.raises(IntegrityError):
        await store.add_waiver(release, Waiver("a", "r", "U-bob", T0, T0 + timedelta(1)))

    assert await store.signoffs(release) == []
    assert await store.notes(release) == []
    assert await store.records(release) == Records()


async def test_alert_state_is_set_and_replaced(store: Store) -> None:
    release = await store.release_id("r", "1")
    assert await store.alert_state(release, "a") is None
    failing = AlertState("a", "failing", T0, T0, Status.FAIL, {"owners": ["U-ops"], "n": 1})
    await store.set_alert_state(release, failing)
    assert await store.alert_state(release, "a") == failing

    resolved = AlertState("a", "ok", T0 + timedelta(hours=1), None, None, {})
    await store.set_alert_state(release, resolved)
    assert await store.alert_state(release, "a") == resolved
    assert await store.alert_state(await store.release_id("r", "2"), "a") is None
    assert await store.audit_log() == [], "alert state is golive's bookkeeping, not audited"


async def test_a_notification_is_claimed_once_even_by_concurrent_callers(store: Store) -> None:
    release = await store.release_id("r", "1")
    claims = await asyncio.gather(
        *(store.claim_notification(release, "go:0", at=T0) for _ in range(4))
    )
    assert sorted(claims) == [False, False, False, True]
    assert await store.claim_notification(release, "go:1", at=T0)
    assert await store.claim_notification(await store.release_id("r", "2"), "go:0", at=T0)


async def test_notifications_are_counted_by_prefix(store: Store) -> None:
    release = await store.release_id("r", "1")
    for key in ("withdrawn:0", "withdrawn:1", "go:0", "withdrawn_%"):
        assert await store.claim_notification(release, key, at=T0)
    assert await store.count_notifications(release, "withdrawn:") == 2
    assert await store.count_notifications(release, "withdrawn_") == 1, "no LIKE wildcards"
    assert await store.count_notifications(release, "go:") == 1
    assert await store.count_notifications(await store.release_id("r", "2"), "go:") == 0


async def test_records_of_an_unknown_release_are_refused(store: Store) -> None:
    with pytest.raises(LookupError, match="no release with id 999"):
        await store.add_note(999, author="U-bob", text="x", at=T0)
