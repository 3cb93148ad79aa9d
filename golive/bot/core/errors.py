"""What a person asked that cannot be done: refused with why and what to do instead.

Surfaces catch :class:`UserError` around a use case and show it to the person who asked
only (an ephemeral reply, a CLI error), worded by the EN/DE catalogue; nothing was
recorded. Its place in golive's one error tree is drawn in :mod:`golive.errors`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ...checks.model import SignoffRole
from ...checks.phrases import Phrase
from ...checks.results import SignoffRecord
from ...errors import GoliveError
from ..render.messages import text


class UserError(GoliveError):
    """Something a person asked for that cannot be done; the message says why and what to do.

    Raised with a catalogue ``key`` and its values, it is worded in the language of the
    surface that shows it (:meth:`say`); ``str()`` is the English text, for logs and the
    CLI. ``usage``: the catalogue key of the command's usage, which Slack adds to the
    reply; ``cli``: the CLI option to pass, which only ``str()`` names."""

    def __init__(
        self,
        message: str = "",
        *,
        key: str | None = None,
        usage: str | None = None,
        cli: str | None = None,
        **values: Any,
    ):
        self.key = key
        self.usage = usage
        self.cli = cli
        self.values = values
        english = message or (
            text("en", key, **{k: self._value("en", v, None) for k, v in values.items()}) if key else ""
        )
        # The CLI's own words for what to pass; Slack adds ``usage`` instead.
        super().__init__(f"{english} ({cli})" if cli else english)

    def for_cli(self, language: str) -> str:
        """The refusal in ``language``, with the CLI option to pass."""
        said = self.say(language)
        return f"{said} ({self.cli})" if self.cli and self.key is not None else said

    def say(self, language: str, escape: Callable[[str], str] | None = None) -> str:
        if self.key is None:
            return str(self)
        values = {k: self._value(language, v, escape) for k, v in self.values.items()}
        return text(language, self.key, **values)

    @staticmethod
    def _value(language: str, value: Any, escape: Callable[[str], str] | None) -> Any:
        if isinstance(value, Phrase):  # a part worded by the catalogue too
            return text(language, value.key, **dict(value.values))
        return escape(value) if escape is not None and isinstance(value, str) else value


class AlreadySigned(UserError):
    """The role stands signed off already: told as information, with who and when."""

    def __init__(self, role: SignoffRole, record: SignoffRecord, user: str) -> None:
        self.role = role
        self.record = record
        self.by_asker = record.user == user
        super().__init__(
            key="signoff_already", role=role.title, user=record.user, at=f"{record.signed_at:%Y-%m-%d %H:%M}"
        )

    @property
    def signed_at(self) -> datetime:
        return self.record.signed_at


class NotApprover(UserError):
    """The person may not sign for the role; the reply names the role's approvers."""

    def __init__(self, role: SignoffRole, user: str) -> None:
        self.role = role
        users = ", ".join(role.approvers.users)
        groups = ", ".join(role.approvers.usergroups)
        key = "cli_not_approver_groups" if groups else "cli_not_approver"
        super().__init__(key=key, user=user, role=role.title, users=users or "—", groups=groups)
