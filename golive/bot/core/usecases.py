"""The application's use cases, shared by every surface (CLI, console, Slack).

A surface parses input and renders output; what happens in between lives here: run the
checklist and store every result as it arrives, read back the current state with the
verdict, record confirmations, sign-offs, waivers and notes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from ...checks.errors import ChecklistError
from ...checks.loader import loads
from ...checks.model import Checklist, Item, SignoffRole
from ...checks.phrases import Phrase
from ...checks.probe import probe_kind, probe_type
from ...checks.results import Confirmation, ItemResult, SignoffRecord, Waiver, fingerprint
from ...checks.runner import run_checklist, select_items
from ...checks.secrets import redact
from ...checks.verdict import current_results, decide
from ...storage import Observation, RunAborted, RunInfo, StorageError
from ..render.mrkdwn import link_problem
from ..state import ChecklistChange, State
from .errors import AlreadySigned, NotApprover, UserError

if TYPE_CHECKING:
    # Not at run time: status and report read a snapshot, without the Store's SQLAlchemy.
    from ...storage import Store
    from ...storage.snapshot import ReleaseReader

log = logging.getLogger(__name__)
#: How long a run that could not store its results waits, after its last probe, for the
#: database to come back. Results are kept in memory meanwhile and every probe still runs.
STORE_RETRY_SECONDS = 60.0
#: The longest text people may record (documented in the README's Slack section): a note,
#: a waiver's reason, a confirmation's comment. Longer input is refused with its length.
NOTE_LIMIT = 3000
REASON_LIMIT = 500
COMMENT_LIMIT = 500
#: What is wrong with an evidence link, by :func:`golive.bot.render.mrkdwn.link_problem`.
def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Release:
    """The release a use case acts on: its checklist, the store, and the release's id
    there. Every use case that reads or writes the release starts from one."""

    checklist: Checklist
    store: Store
    id: int


async def release_context(checklist: Checklist, store: Store) -> Release:
    """The checklist's release in ``store`` (recorded there the first time)."""
    release_id = await store.release_id(checklist.release.name, checklist.release.version)
    return Release(checklist, store, release_id)


async def execute_run(
    checklist: Checklist,
    store: Store,
    *,
    phase: str | None = None,
    trigger: str = "cli",
    on_result: Callable[[ItemResult], Awaitable[None]] | None = None,
    on_start: Callable[[int], Awaitable[None]] | None = None,
    now: Callable[[], datetime] = utcnow,
    store_retry: float = STORE_RETRY_SECONDS,
    slot_at: datetime | None = None,
) -> tuple[int, State]:
    """Run (a phase of) the checklist, storing each result the moment it is known.

    When the database fails mid-run, results are kept in order and stored once it
    answers again; if it has not come back ``store_retry`` seconds after the last probe,
    StorageError says how many results were not stored, and the run stays unfinished
    (the next ``golive serve`` marks it aborted).
    """
    selected = select_items(checklist, phase)  # ValueError for an unknown phase, before anything is stored
    release = await release_context(checklist, store)
    records = await store.records(release.id)
    previous = current_results(checklist, await store.latest_results(release.id), records, now())
    # Stored masked: a checklist that writes a credential into a URL (rather than as a
    # reference) must not carry it into the database. The digest is of the file as written.
    await store.store_checklist(checklist.digest, redact(checklist.content), at=now())
    change = await _checklist_change(checklist, store, await store.latest_run(release.id))
    run_id = await store.start_run(
        release.id,
        trigger=trigger,
        phase=phase,
        checklist_digest=checklist.digest,
        started_at=now(),
        slot_at=slot_at,
    )
    if on_start is not None:
        await on_start(run_id)

    # Reported as they arrive, stored behind them: storing never holds up a result's
    # report (console, Slack, logs). One writer stores what is queued, in order of arrival.
    writer = _ResultWriter(store, run_id, checklist)
    reported_until_aborted = writer.reporting(on_result)
    probing = asyncio.ensure_future(
        run_checklist(
            checklist,
            phase=phase,
            records=records,
            previous=previous,
            on_result=reported_until_aborted,
            now=now,
        )
    )
    writing = asyncio.create_task(writer.run(probing))
    try:
        outcome = await probing
    except BaseException as exc:
        # Cut short (shutdown, an abort, a failing callback): what is queued stays
        # unstored, as a run cut short leaves it; the writer is not waited for.
        writing.cancel()
        await asyncio.gather(writing, return_exceptions=True)
        if isinstance(exc, asyncio.CancelledError) and writer.aborted is not None and not _cancelling():
            raise writer.aborted from None
        raise
    writer.close()
    await writing
    unsaved = writer.unsaved
    own = {r.item_id: Observation(run_id, r) for r in outcome.results.values()}
    selected_ids = {i.id for i in selected}
    decided: list[State] = []

    async def finish() -> None:
        await writer.store_queued()
        # Decided as of the finish, on the sign-offs, confirmations and waivers stored
        # now: the verdict stored with the run is the one it reports.
        state = await _run_state(checklist, store, run_id, own, selected_ids, outcome.finished_at, change)
        await store.finish_run(
            run_id,
            finished_at=outcome.finished_at,
            verdict=state.verdict.decision,
            fingerprint=fingerprint(outcome.results),
        )
        decided.append(state)

    await _until_stored(
        finish, store_retry, lambda: f"run #{run_id} not stored ({len(unsaved)} result(s) pending)"
    )
    return run_id, replace(decided[-1], run=await store.run(run_id))


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class _ResultWriter:
    """Stores a run's results in the order they arrived, by one task, each time in one
    transaction for everything queued. When the database fails, results stay queued and
    are tried again with the next result (and at the run's end, with backoff). When the
    run was aborted meanwhile (another replica took it for dead), the run stops: its
    results are not reported any more and the probes are cancelled."""

    def __init__(self, store: Store, run_id: int, checklist: Checklist) -> None:
        self.store = store
        self.run_id = run_id
        self.unsaved: list[ItemResult] = []
        self.aborted: RunAborted | None = None
        self._phases = {item.id: item.phase for item in checklist.items()}
        self._arrived = asyncio.Event()
        self._closing = False

    def reporting(
        self, on_result: Callable[[ItemResult], Awaitable[None]] | None
    ) -> Callable[[ItemResult], Awaitable[None]]:
        async def report(result: ItemResult) -> None:
            if self.aborted is not None:
                raise self.aborted
            self.unsaved.append(result)
            self._arrived.set()
            if on_result is not None:
                await on_result(result)

        return report

    async def store_queued(self) -> None:
        """Store what is queued, in one transaction; kept queued when that fails."""
        batch = list(self.unsaved)
        if batch:
            await self.store.record_results(self.run_id, [(r, self._phases[r.item_id]) for r in batch])
            del self.unsaved[: len(batch)]

    async def run(self, probing: asyncio.Future[Any]) -> None:
        """The writer task: stores until :meth:`close`, cancels ``probing`` on an abort."""
        while not self._closing:
            await self._arrived.wait()
            self._arrived.clear()
            try:
                await self.store_queued()
            except RunAborted as exc:
                self.aborted = exc
                probing.cancel()
                return
            except StorageError as exc:
                log.warning(
                    "run %s: %d result(s) kept until the database answers: %s",
                    self.run_id,
                    len(self.unsaved),
                    exc,
                )

    def close(self) -> None:
        """The probes are done: store what is queued and stop (the run's finish stores
        what the database did not take)."""
        self._closing = True
        self._arrived.set()


async def _run_state(
    checklist: Checklist,
    store: Store,
    run_id: int,
    own: Mapping[str, Observation],
    selected: set[str],
    at: datetime,
    change: ChecklistChange | None,
) -> State:
    """What a run reports: its own results (for a phase run, the other items' latest ones
    too), with the sign-offs, confirmations and waivers stored when it finished, decided
    as of its finish. Never another run's results for the items it probed, even when a
    run beside it stored newer ones meanwhile."""
    release = await release_context(checklist, store)
    records = await store.records(release.id)
    # A run of the whole checklist reports only its own results: reading (and decoding)
    # every item's newest result just to set them all aside cost a thousand-item run a
    # fifth of a millisecond per item.
    unselected = any(item.id not in selected for item in checklist.items())
    latest = await store.latest_observations(release.id) if unselected else {}
    others = {k: v for k, v in latest.items() if k not in selected}
    seen = {**others, **own}
    results = current_results(checklist, {k: v.result for k, v in seen.items()}, records, at)
    return State(
        checklist=checklist,
        release_id=release.id,
        run=None,  # the caller's, once the run is finished
        results=results,
        records=records,
        verdict=decide(checklist, results, records, at),
        notes=await store.notes(release.id),
        at=at,
        observed_in=_observed_in(checklist, seen),
        own_run=run_id,
        checklist_change=change,
    )


def _observed_in(checklist: Checklist, seen: Mapping[str, Observation]) -> dict[str, int]:
    probed = {i.id for i in checklist.items() if probe_kind(i.probe_type) not in ("manual", "derived")}
    return {item: observation.run_id for item, observation in seen.items() if item in probed}


async def _checklist_change(
    checklist: Checklist, store: Store, previous: RunInfo | None
) -> ChecklistChange | None:
    if previous is None or not previous.checklist_digest or previous.checklist_digest == checklist.digest:
        return None
    return await checklist_change(store, previous.checklist_digest, checklist.digest)


async def checklist_change(store: Store, before: str, after: str) -> ChecklistChange:
    """The items the checklist ``after`` added and removed against ``before`` (digests)."""
    old, new = await _stored_items(store, before), await _stored_items(store, after)
    if old is None or new is None:
        return ChecklistChange(before, after)
    return ChecklistChange(
        before,
        after,
        added=tuple(i for i in new if i not in set(old)),
        removed=tuple(i for i in old if i not in set(new)),
    )


async def _stored_items(store: Store, digest: str) -> list[str] | None:
    content = await store.checklist_content(digest)
    if content is None:
        return None
    try:
        return [i.id for i in loads(content, source=f"stored checklist {digest[:12]}").items()]
    except ChecklistError:
        return None


async def stored_checklist(
    store: ReleaseReader, *, run_id: int | None = None, bind_probes: bool = True
) -> Checklist:
    """The checklist a run used (by default the newest run), read back from the database:
    what ``status``, ``report`` and ``diff`` show when no checklist file is named. Without
    ``bind_probes``, only to be shown (see :func:`~golive.checks.loader.loads`)."""
    run = await store.newest_run() if run_id is None else await store.run(run_id)
    if run is None:
        if run_id is not None:
            raise UserError(key="no_run", run=run_id)
        raise UserError(key="nothing_stored")
    content = await store.checklist_content(run.checklist_digest)
    if content is None:
        raise UserError(key="checklist_not_stored", run=run.id)
    source = f"the checklist of run #{run.id} (sha256 {run.checklist_digest[:12]})"
    try:
        checklist = loads(content, source=source, bind_probes=bind_probes)
    except ChecklistError as exc:
        raise UserError(key="stored_checklist_invalid", problem=str(exc)) from None
    stored = await store.release_of(run.release_id)
    if stored is not None and (checklist.release.name, checklist.release.version) != stored:
        # The file names its release through variables set otherwise here: the run's
        # release is the one it ran for.
        release = checklist.release.model_copy(update={"name": stored[0], "version": stored[1]})
        checklist = checklist.model_copy(update={"release": release})
    return checklist


async def _until_stored(
    write: Callable[[], Awaitable[None]], patience: float, lost: Callable[[], str]
) -> None:
    """Retry ``write`` with backoff while the database fails, for ``patience`` seconds."""
    deadline = time.monotonic() + patience
    delay = 0.25
    while True:
        try:
            await write()
            return
        except StorageError as exc:
            if time.monotonic() + delay > deadline:
                raise StorageError(
                    f"{lost()}; the database did not come back within {patience:g}s, so the run "
                    f"stays incomplete: {exc}"
                ) from None
            log.warning("%s yet; retrying in %gs: %s", lost(), delay, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


async def current_state(
    checklist: Checklist, store: ReleaseReader, *, now: Callable[[], datetime] = utcnow
) -> State:
    """The release's state as of ``now``: each item's newest result, whichever run made it,
    with what people recorded. Read from the Store, or from a snapshot of it."""
    at = now()
    release_id = await store.release_id(checklist.release.name, checklist.release.version)
    records = await store.records(release_id)
    latest = await store.latest_observations(release_id)
    results = current_results(checklist, {k: v.result for k, v in latest.items()}, records, at)
    return State(
        checklist=checklist,
        release_id=release_id,
        run=await store.latest_run(release_id),
        results=results,
        records=records,
        verdict=decide(checklist, results, records, at),
        notes=await store.notes(release_id),
        at=at,
        observed_in=_observed_in(checklist, latest),
    )


async def release_state(run_state: State, store: Store) -> State:
    """The release's current state when a run has finished: each item's newest observation,
    whichever run made it. What announcements, alerts and the gauges follow, while the
    run reports its own results."""
    return await current_state(run_state.checklist, store, now=lambda: run_state.at)


def automated_blocking_pass(checklist: Checklist, results: dict[str, ItemResult], phase: str | None) -> bool:
    """The ``golive run`` exit code rule: every blocking automated item selected passes."""
    from ...checks.verdict import item_ok

    for item in select_items(checklist, phase):
        if not item.blocking or probe_kind(item.probe_type) != "auto":
            continue
        result = results.get(item.id)
        if result is None or not item_ok(item, result.status):
            return False
    return True


class Authorizer(Protocol):
    """Decides whether a user may act for a sign-off role (sign, confirm, waive)."""

    async def is_approver(self, role: SignoffRole, user: str) -> bool: ...


class ListedApprovers:
    """Approvers named by user ID in the checklist; user groups need Slack to resolve."""

    async def is_approver(self, role: SignoffRole, user: str) -> bool:
        return user in role.approvers.users


LISTED = ListedApprovers()


async def _may_act_for(checklist: Checklist, item: Item | None, user: str, authorizer: Authorizer) -> None:
    """An item's own role decides who may confirm or waive it. What no role owns (an item
    without owner, a note) any role's approver may do; anyone, when there are no roles."""
    if item is not None and item.responsible is not None:
        await _approver_check(checklist, item.responsible, user, authorizer)
        return
    if not checklist.signoffs:
        return
    for role in checklist.signoffs:
        if await authorizer.is_approver(role, user):
            return
    titles = ", ".join(role.title for role in checklist.signoffs)
    raise UserError(key="not_approver_any", user=user, roles=titles)


def _item(checklist: Checklist, item_id: str) -> Item:
    try:
        return checklist.item(item_id)
    except KeyError:
        raise UserError(key="no_item", item=item_id) from None


def _role(checklist: Checklist, role_id: str) -> SignoffRole:
    try:
        return checklist.role(role_id)
    except KeyError:
        roles = ", ".join(r.id for r in checklist.signoffs)
        raise UserError(key="no_role", role=role_id, roles=roles) from None


async def _approver_check(checklist: Checklist, role_id: str, user: str, authorizer: Authorizer) -> None:
    role = checklist.role(role_id)
    if not await authorizer.is_approver(role, user):
        raise NotApprover(role, user)


async def confirm_item(
    checklist: Checklist,
    store: Store,
    item_id: str,
    *,
    user: str,
    evidence_url: str | None,
    comment: str | None = None,
    now: Callable[[], datetime] = utcnow,
    authorizer: Authorizer = LISTED,
) -> None:
    item = _item(checklist, item_id)
    kind = probe_type(item.probe_type)
    if kind.kind != "manual":
        raise UserError(key="not_manual", item=item_id, probe=item.probe_type)
    config = item.config
    if getattr(config, "evidence_required", False) and not evidence_url:
        raise UserError(key="evidence_needed", cli="pass --evidence URL", item=item_id)
    problem = link_problem(evidence_url) if evidence_url else None
    if problem is not None:
        raise UserError(key="evidence_invalid", problem=Phrase.of(f"evidence_problem_{problem}"))
    if comment is not None and len(comment) > COMMENT_LIMIT:
        raise UserError(key="comment_too_long", limit=COMMENT_LIMIT, length=len(comment))
    await _may_act_for(checklist, item, user, authorizer)
    release = await release_context(checklist, store)
    await store.add_confirmation(
        release.id,
        # A link copied from a browser may carry a token (`?access_token=…`, a signed URL).
        Confirmation(item_id, user, now(), redact(evidence_url), redact(comment)),
        actor=user,
    )


async def sign_off(
    checklist: Checklist,
    store: Store,
    role_id: str,
    *,
    user: str,
    now: Callable[[], datetime] = utcnow,
    authorizer: Authorizer = LISTED,
) -> SignoffRecord:
    """Sign a role off on the current results. Raises UserError when not allowed or already signed."""
    role = _role(checklist, role_id)
    await _approver_check(checklist, role_id, user, authorizer)
    state = await current_state(checklist, store, now=now)
    if state.run is None:
        raise UserError(key="no_run_to_sign")
    record = SignoffRecord(
        role=role.id,
        user=user,
        signed_at=now(),
        run_id=state.run.id,
        approved={item_id: r.status for item_id, r in state.results.items()},
        fingerprint=fingerprint(state.results),
    )
    if not await store.add_signoff(state.release_id, record):
        records = await store.records(state.release_id)
        standing = [
            s
            for s in records.signoffs
            if s.role == role.id and s.revoked_at is None and s.invalidated_at is None
        ]
        if standing:
            raise AlreadySigned(role, max(standing, key=lambda s: s.signed_at), user)
        raise UserError(key="signoff_already", role=role.title, user="?", at="?")
    return record


async def revoke_sign_off(
    checklist: Checklist,
    store: Store,
    role_id: str,
    *,
    user: str,
    now: Callable[[], datetime] = utcnow,
    authorizer: Authorizer = LISTED,
) -> None:
    _role(checklist, role_id)
    await _approver_check(checklist, role_id, user, authorizer)
    release = await release_context(checklist, store)
    if not await store.revoke_signoff(release.id, role_id, by=user, at=now()):
        raise UserError(key="signoff_nothing_to_revoke", role=checklist.role(role_id).title)


async def waive_item(
    checklist: Checklist,
    store: Store,
    item_id: str,
    *,
    days: float,
    reason: str,
    user: str,
    now: Callable[[], datetime] = utcnow,
    authorizer: Authorizer = LISTED,
) -> Waiver:
    item = _item(checklist, item_id)
    if not 0 < days <= 90:
        raise UserError(key="waive_days", usage="waive_usage", cli="pass --days 0.5 … 90", days=f"{days:g}")
    if len(reason.strip()) < 5:
        raise UserError(key="waive_reason", usage="waive_usage", cli="pass --reason 'ticket or explanation'")
    if len(reason.strip()) > REASON_LIMIT:
        raise UserError(key="waive_reason_too_long", limit=REASON_LIMIT, length=len(reason.strip()))
    await _may_act_for(checklist, item, user, authorizer)
    at = now()
    waiver = Waiver(item_id, reason.strip(), user, at, at + timedelta(days=days))
    release = await release_context(checklist, store)
    await store.add_waiver(release.id, waiver)
    return waiver


async def add_note(
    checklist: Checklist,
    store: Store,
    *,
    user: str,
    text: str,
    now: Callable[[], datetime] = utcnow,
    authorizer: Authorizer = LISTED,
) -> None:
    text = text.strip()
    if not text:
        raise UserError(key="note_empty", usage="note_usage")
    if len(text) > NOTE_LIMIT:
        raise UserError(key="note_too_long", limit=NOTE_LIMIT, length=len(text))
    await _may_act_for(checklist, None, user, authorizer)
    release = await release_context(checklist, store)
    await store.add_note(release.id, author=user, text=text, at=now())
