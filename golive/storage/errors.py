"""The errors the storage layer raises on purpose (their place: :mod:`golive.errors`).

``StorageError`` means the database cannot be used: the URL is not one golive
understands, the server cannot be reached (at open or later), SQLite stayed locked past
its busy timeout, or a stored document was written by a newer golive. Its message names
the database without the password.

Mistakes of the caller are not StorageErrors: an unknown run or release id raises
``LookupError``; a naive datetime, SQLAlchemy's ``StatementError``; a write the schema
forbids (touching the audit log), SQLAlchemy's ``IntegrityError``.
"""

from __future__ import annotations

from ..errors import GoliveError


class StorageError(GoliveError):
    """The database cannot be used; nothing was recorded."""


class RunAborted(GoliveError):
    """A run was marked aborted while it ran (its process was taken for dead, or gave up
    on it): it takes no more results and is not completed. Another run stands for it."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"run #{run_id} was marked aborted meanwhile; its late results are not stored")
        self.run_id = run_id
