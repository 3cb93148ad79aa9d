"""The schema, as typed declarative models. Alembic's migrations must produce exactly this
(``tests/storage/test_schema.py`` compares them on every backend).

Rows are named ``…Row`` to keep them apart from the records of :mod:`golive.checks`
(``ItemResult``, ``SignoffRecord`` …), which are what the rest of golive sees.
JSON columns hold documents with a ``version`` key (see :mod:`golive.storage.codec`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    MetaData,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .columns import UTCDateTime

#: Deterministic constraint names, identical on SQLite and PostgreSQL, so a migration can
#: name what it drops.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES = ("running", "complete", "aborted")

#: The predicate of "the active sign-off of a role": both backends support partial
#: indexes with this exact WHERE, and upserts name it as their conflict target.
ACTIVE_SIGNOFF = "revoked_at IS NULL AND invalidated_at IS NULL"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Text, not VARCHAR(n): PostgreSQL treats them alike, and a length limit would make an
    # unusually long message or URL fail to record, which loses what was observed.
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it once, at class creation)
        datetime: UTCDateTime(),
        str: Text(),
        dict[str, Any]: JSON(),
    }


class ReleaseRow(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    version: Mapped[str]


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ({})".format(", ".join(f"'{s}'" for s in RUN_STATUSES)), name="status"),
        # latest_run / runs: the newest runs of a release, read backwards from the end.
        Index(None, "release_id", "started_at"),
        # abort_orphaned_runs, every few seconds on the leader: only the few running rows
        # are in this index.
        Index(
            "ix_runs_running",
            "status",
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str]
    trigger: Mapped[str]
    phase: Mapped[str | None]
    checklist_digest: Mapped[str]
    verdict: Mapped[str | None]
    fingerprint: Mapped[str | None]
    #: The process that runs it (its replica lease is ``replica:<owner>``); a running run
    #: whose owner's lease lapsed was left by a dead process.
    owner: Mapped[str | None]
    #: The scheduled slot it runs, for a scheduled run.
    slot_at: Mapped[datetime | None]
    #: Where its message is in Slack (a replica taking over edits it to its final state).
    message_channel: Mapped[str | None]
    message_ts: Mapped[str | None]


class ChecklistRow(Base):
    """A checklist as runs used it, stored once per distinct content: ``golive status``,
    ``report`` and ``diff`` read it back when no checklist file is at hand, and a run
    says which items its checklist added or removed since the run before."""

    __tablename__ = "checklists"

    #: sha256 of ``content``, as ``runs.checklist_digest`` names it.
    digest: Mapped[str] = mapped_column(primary_key=True)
    #: The file as written: ``${VAR}`` references, not their values.
    content: Mapped[str]
    stored_at: Mapped[datetime]


class ResultRow(Base):
    """One item's result in one run: ~70 rows per run, ~2.5M a year at 15-minute runs.

    Two queries must stay fast at that size, and each has an index that answers it by
    seeking rather than scanning:

    - ``latest_results`` (newest result of each item of a release) walks the distinct
      item ids of the release with a recursive skip-scan over
      ``ix_results_release_id_item_id_checked_at_id`` and, per item, reads the last entry
      of the same index: about two index seeks per item, whatever the number of runs.
    - ``item_history`` (one item's results, newest first) is a backward range scan over
      that same index, stopping at the limit.
    - ``run_results`` reads one run's rows through ``ix_results_run_id``.

    ``id`` closes the index so that results checked in the same microsecond still have a
    defined order (newest inserted wins); SQLite keeps rowid in every index anyway.
    """

    __tablename__ = "results"
    __table_args__ = (
        Index(None, "release_id", "item_id", "checked_at", "id"),
        Index(None, "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    # Denormalised from runs so the per-release queries need no join.
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    item_id: Mapped[str]
    phase: Mapped[str]
    status: Mapped[str]
    raw_status: Mapped[str]
    message: Mapped[str]
    raw_message: Mapped[str]
    duration_ms: Mapped[float] = mapped_column(Double())
    checked_at: Mapped[datetime]
    observed: Mapped[dict[str, Any]]
    evidence: Mapped[dict[str, Any] | None]
    conditions: Mapped[dict[str, Any]]
    #: ``message`` as a catalogue phrase where golive worded it (a dependency skip, a
    #: timeout, a missing setting), so a German checklist shows it in German later too.
    phrase: Mapped[dict[str, Any] | None]


class ChartPointRow(Base):
    """What the phase charts need of one run, one row per phase the run observed, written
    when the run finishes: status, duration, numeric observed values and evidence source
    per item, in one small document.

    The charts read the newest twenty rows of one phase through
    ``ix_chart_points_release_id_phase_run_id``: twenty index entries and twenty small
    documents, however many results the release has stored, instead of decoding every
    result (messages, conditions, evidence) of twenty runs.
    """

    __tablename__ = "chart_points"
    __table_args__ = (
        UniqueConstraint("run_id", "phase"),
        Index(None, "release_id", "phase", "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    phase: Mapped[str]
    run_at: Mapped[datetime]
    points: Mapped[dict[str, Any]]


class SignoffRow(Base):
    __tablename__ = "signoffs"
    __table_args__ = (
        # At most one active sign-off per role: a double click, or two replicas handling
        # the same click, is recorded once. The database decides, not a read-then-write.
        Index(
            "uq_signoffs_active_role",
            "release_id",
            "role",
            unique=True,
            sqlite_where=text(ACTIVE_SIGNOFF),
            postgresql_where=text(ACTIVE_SIGNOFF),
        ),
        Index(None, "release_id", "signed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    role: Mapped[str]
    user: Mapped[str]
    signed_at: Mapped[datetime]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    approved: Mapped[dict[str, Any]]
    fingerprint: Mapped[str]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None]
    invalidated_at: Mapped[datetime | None]
    invalidated_reason: Mapped[str | None]


class ConfirmationRow(Base):
    __tablename__ = "confirmations"
    __table_args__ = (Index(None, "release_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    item_id: Mapped[str]
    user: Mapped[str]
    confirmed_at: Mapped[datetime]
    evidence_url: Mapped[str | None]
    comment: Mapped[str | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None]


class WaiverRow(Base):
    __tablename__ = "waivers"
    __table_args__ = (Index(None, "release_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    item_id: Mapped[str]
    reason: Mapped[str]
    created_by: Mapped[str]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None]


class NoteRow(Base):
    __tablename__ = "notes"
    __table_args__ = (Index(None, "release_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    author: Mapped[str]
    text: Mapped[str]
    created_at: Mapped[datetime]


class AlertStateRow(Base):
    __tablename__ = "alert_state"

    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), primary_key=True)
    item_id: Mapped[str] = mapped_column(primary_key=True)
    state: Mapped[str]
    since: Mapped[datetime]
    last_notified_at: Mapped[datetime | None]
    last_status: Mapped[str | None]
    details: Mapped[dict[str, Any]]


class ScheduleStateRow(Base):
    """The schedule of a release, as it must survive a restart: whether people paused it,
    and the last scheduled slot claimed (so a slot runs once, and a restart runs no
    backlog). One row per release, created on first use."""

    __tablename__ = "schedule_state"

    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), primary_key=True)
    paused: Mapped[bool]
    changed_by: Mapped[str | None]
    changed_at: Mapped[datetime | None]
    last_slot_at: Mapped[datetime | None]
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    #: How often the last slot was started: a leader that takes over re-runs a slot its
    #: predecessor left unfinished, and this number lets one of them win.
    slot_attempt: Mapped[int] = mapped_column(server_default=text("0"))
    #: When the last slot's run and its notifications were done.
    slot_done_at: Mapped[datetime | None]


class NotificationRow(Base):
    """A one-time notification, claimed by whoever posts it (e.g. ``go:0``): replicas and
    overlapping runs race to insert; the primary key lets exactly one win."""

    __tablename__ = "notifications"

    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), primary_key=True)
    key: Mapped[str] = mapped_column(primary_key=True)
    claimed_at: Mapped[datetime]


class OutboxRow(Base):
    """One message of a claimed notification, from its claim until Slack has it.

    Written before the first post, so that a post whose outcome is unknown (the connection
    broke, no answer, a 5xx) is neither forgotten nor repeated blindly: whoever resumes it
    first looks for ``token`` in the channel's history (the post's message metadata
    carries it). ``attempts`` counts posts sent that Slack may have taken; a row is done
    once ``posted_ts`` is set. ``leased_until`` keeps a second process off a row that one
    is posting."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("token"),
        # pending_outbox: the few rows of a release not yet posted, oldest first.
        Index(None, "release_id", "posted_ts", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    #: The notification's claim key (several, space-separated, for a message that carries
    #: several items' alerts) and the message's place among the notification's messages.
    claim: Mapped[str]
    part: Mapped[int]
    token: Mapped[str]
    channel: Mapped[str]
    #: ``{"version": 1, "text": …, "blocks": […]}``
    message: Mapped[dict[str, Any]]
    #: Wall-clock time of the claim: the history is searched from a little before it.
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    #: Who holds the row (a token per take) and until when.
    leased_by: Mapped[str | None]
    leased_until: Mapped[datetime | None]
    posted_ts: Mapped[str | None]


class LeaseRow(Base):
    """A lease: the leader's (``golive-leader``) and one per live process
    (``replica:<holder>``). Taken and renewed by conditional upserts, so of two processes
    asking at once one holds it; ``term`` grows each time it changes hands."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(primary_key=True)
    holder: Mapped[str]
    term: Mapped[int]
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class AuditRow(Base):
    """Append-only: triggers in the migration reject UPDATE and DELETE on both backends."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str]
    action: Mapped[str]
    subject: Mapped[str]
    details: Mapped[dict[str, Any]]


class PendingDeploymentRow(Base):
    """A deploy a forge holds until golive answers it (a GitHub deployment protection
    rule): recorded once per delivery, answered once (``answered_at``) by whoever claimed
    the answer (``Store.claim_notification`` with ``deploy:<id>``)."""

    __tablename__ = "pending_deployments"
    __table_args__ = (
        UniqueConstraint("delivery_id"),
        # unanswered_deployments: the few still waiting, oldest first.
        Index(None, "answered_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    forge: Mapped[str]
    #: The forge's delivery id: a redelivery of the same request is recorded once.
    delivery_id: Mapped[str]
    repository: Mapped[str]
    environment: Mapped[str]
    ref: Mapped[str]
    sha: Mapped[str]
    installation_id: Mapped[int]
    callback_url: Mapped[str]
    received_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    #: Answered: "approved" or "rejected" and the comment sent with it, "failed" (GitHub
    #: refused the answer) or "uncertain" (refused after an attempt it may have applied).
    #: Unanswered: None, or "retrying"/"uncertain" and why the last attempt failed.
    state: Mapped[str | None]
    comment: Mapped[str | None]


class SignoffCardRow(Base):
    """A sign-off card posted in Slack: every one is edited when a sign-off changes, so
    that none keeps showing a sign-off revoked or invalidated since."""

    __tablename__ = "signoff_cards"
    __table_args__ = (UniqueConstraint("channel", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    channel: Mapped[str]
    ts: Mapped[str]
    posted_at: Mapped[datetime]
