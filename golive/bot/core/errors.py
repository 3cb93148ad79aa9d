"""What a person asked that cannot be done: refused with why and what to do instead.

Surfaces catch :class:`UserError` around a use case and show it to the person who asked
only (an ephemeral reply, a CLI error), worded by the EN/DE catalogue; nothing was
recorded. Its place in golive's one error tree is drawn in :mod:`golive.errors`.
"""

from __future__ import annotations

from ...checks.model import SignoffRole
from ...errors import GoliveError


class UserError(GoliveError):
    """Something a person asked for that cannot be done; the message says why and what to do."""


class NotApprover(UserError):
    """The person may not sign for the role; the reply names the role's approvers."""

    def __init__(self, role: SignoffRole, user: str) -> None:
        self.role = role
        groups = f"; members of {', '.join(role.approvers.usergroups)}" if role.approvers.usergroups else ""
        super().__init__(
            f"{user} is not an approver of {role.title}; approvers: "
            f"{', '.join(role.approvers.users) or 'none listed'}{groups}"
        )
