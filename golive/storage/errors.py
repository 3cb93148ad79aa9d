"""The one error the storage layer raises on purpose.

``StorageError`` means the database cannot be used: the URL is not one golive
understands, the server cannot be reached (at open or later), SQLite stayed locked past
its busy timeout, or a stored document was written by a newer golive. Its message names
the database without the password.

Mistakes of the caller are not StorageErrors: an unknown run or release id raises
``LookupError``; a naive datetime, SQLAlchemy's ``StatementError``; a write the schema
forbids (touching the audit log), SQLAlchemy's ``IntegrityError``.
"""

from __future__ import annotations


class StorageError(Exception):
    pass
