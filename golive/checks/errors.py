"""The one error tree of golive: every error the code raises on purpose is one of these.

::

    Exception
    ├── ChecklistError            configuration: the checklist is invalid (golive.checks.errors)
    │                             raised at load with every Problem at once, each naming the
    │                             item and the field; never raised while running
    ├── ProbeError                a probe could not decide: the item is ERROR with the message
    │   ├── TemporaryProbeError   trying again may help: unreachable, timed out, HTTP 5xx, rate
    │   │                         limited, a server still starting. The runner tries again
    │   │                         within the item's timeout budget; the result is stored with
    │   │                         TEMPORARY, and one temporary error alone is no alert
    │   └── PermanentProbeError   the target or the checklist must change: not authorised,
    │       │                     TLS, not found, a malformed answer or report, a file missing
    │       └── NotConfigured     an environment variable the checklist reads is not set
    ├── UserError                 what a person asked cannot be done (golive.bot: shown to
    │                             them in their language from the message catalogue)
    └── StorageError              the database failed or refused (golive.storage.errors);
                                  nothing was recorded, the caller says so

Subclasses that carry more for their callers stay under their kind (the Kubernetes and
forge clients' not-found, forbidden, conflict and status errors). A probe raises the
kind it means; a client that adds context to an error it caught keeps its kind with
:func:`reworded`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a checklist: where (item id or top-level path), which field, what."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.where}:{field} {self.message}"


class ChecklistError(Exception):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class ProbeError(Exception):
    """A probe could not decide; raise one of the two kinds below, catch this."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemporaryProbeError(ProbeError):
    """Trying again later may help (unreachable, timed out, 5xx, rate limited)."""


class PermanentProbeError(ProbeError):
    """Trying again will not help until the target or the checklist changes."""


class NotConfigured(PermanentProbeError):
    """A target the checklist reads from an environment variable is not set."""

    def __init__(self, variables: tuple[str, ...]) -> None:
        names = ", ".join(variables)
        super().__init__(f"not configured: set {names}")
        self.variables = variables


def reworded(error: ProbeError, message: str) -> ProbeError:
    """An error of the same kind as ``error`` that says more (where it happened)."""
    kind = TemporaryProbeError if isinstance(error, TemporaryProbeError) else PermanentProbeError
    return kind(message)
