"""The errors of the checks layer.

- :class:`ChecklistError`: the checklist is invalid. Raised at load with *every* problem,
  each naming the item and field. Never raised while running.
- :class:`ProbeError`: a probe could not decide. The item becomes ERROR with the message.
  ``temporary`` says whether trying again later may help (unreachable, timeout) or not
  (unauthorised, misconfigured, file missing).
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
    def __init__(self, message: str, *, temporary: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.temporary = temporary


class NotConfigured(ProbeError):
    """A target the checklist reads from an environment variable is not set."""

    def __init__(self, variables: tuple[str, ...]) -> None:
        names = ", ".join(variables)
        super().__init__(f"not configured: set {names}")
        self.variables = variables
