"""Item statuses and how they combine."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """The state of one checklist item.

    PASS, WARN and FAIL come from conditions; ERROR means the probe could not decide
    (misconfigured, unreachable, unauthorised); STALE means the evidence is older than
    the item allows; PENDING is a manual item nobody has confirmed yet; WAIVED is a
    non-passing item covered by an unexpired waiver; SKIPPED means a dependency failed.
    """

    PASS = "PASS"  # noqa: S105  (a status, not a password)
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"
    STALE = "STALE"
    PENDING = "PENDING"
    WAIVED = "WAIVED"
    SKIPPED = "SKIPPED"

    @property
    def severity(self) -> int:
        """Higher is worse; used to combine a probe's own status with its conditions."""
        return _SEVERITY[self]

    def worst(self, other: Status) -> Status:
        return self if self.severity >= other.severity else other


_SEVERITY = {
    Status.PASS: 0,
    Status.WAIVED: 1,
    Status.WARN: 2,
    Status.PENDING: 3,
    Status.SKIPPED: 4,
    Status.STALE: 5,
    Status.FAIL: 6,
    Status.ERROR: 7,
}

#: Statuses under which a dependent item may still run.
DEPENDENCY_OK = frozenset({Status.PASS, Status.WARN, Status.WAIVED})
