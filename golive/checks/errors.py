"""The checks' errors: a checklist that cannot load, a probe that could not decide.

Their place in golive's one error tree, and what each kind means to the runner and the
alerts, is drawn in :mod:`golive.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GoliveError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a checklist: where (item id or top-level path), which field, what."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.where}:{field} {self.message}"


class ChecklistError(GoliveError):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class ProbeError(GoliveError):
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
