"""Times as golive stores them: aware and in UTC, whatever the database keeps.

Without SQLAlchemy, so a :mod:`.snapshot` reads stored times the way the Store's column
type (:class:`~golive.storage.columns.UTCDateTime`) does.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is a bug upstream, so it is refused, not guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: golive stores aware UTC times")
    return value.astimezone(UTC)


def stored_utc(value: datetime) -> datetime:
    """A time read back: SQLite's has no zone (the UTC wall time was written), PostgreSQL's
    ``timestamptz`` comes in the session's zone."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
