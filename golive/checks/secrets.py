"""Secrets by reference, and the redactor that keeps them out of every output.

A checklist never holds a secret: it names an environment variable or a file. The value
is read when a probe needs it, and from then on every message, observed value and piece
of evidence that leaves a probe passes through :func:`redact`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from .errors import PermanentProbeError
from .redaction import MASK, redact_text

_MIN_SECRET_LENGTH = 4  # shorter strings would redact ordinary words


class SecretRef(BaseModel):
    """``{env: NAME}`` or ``{file: /path}``: where a secret is, never the secret itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str | None = None
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _reject_inline(cls, data: Any) -> Any:
        if isinstance(data, str | int | float):
            raise ValueError(
                "inline secrets are not allowed: write {env: VARIABLE} or {file: /path/to/secret}"
            )
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret reference names exactly one of 'env' or 'file'")
        return self

    def describe(self) -> str:
        return f"env {self.env}" if self.env else f"file {self.file}"

    def resolve(self) -> str:
        """Read the secret and register it with the redactor. Raises ProbeError if absent."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise PermanentProbeError(f"secret not available: set the environment variable {self.env}")
        else:
            assert self.file is not None
            try:
                value = Path(self.file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise PermanentProbeError(
                    f"secret not available: cannot read {self.file} ({exc.strerror})"
                ) from None
            if not value:
                raise PermanentProbeError(f"secret not available: {self.file} is empty")
        REDACTOR.register(value)
        return value

    def resolve_optional(self) -> str | None:
        """The secret, or None when it names an environment variable that is unset or
        empty: no credential, to be tried as such (servers with trust, peer or
        certificate auth, anonymous registries need none). Only the server's refusal
        is an error then, and :meth:`unset_hint` says what to set. A file that cannot
        be read is still an error: naming a file says a secret is meant to be there."""
        if self.env is not None and not os.environ.get(self.env):
            return None
        return self.resolve()

    def unset_hint(self) -> str:
        """What to do when a server refused the request made without this secret."""
        return f"set the environment variable {self.env}" if self.env else f"put the secret in {self.file}"

    def refused_hint(self, what: str) -> str:
        """What to do when a server refused this secret (``what``: "password", "token")."""
        where = f"the environment variable {self.env}" if self.env else f"the file {self.file}"
        return f"check the {what} in {where}"


class Redactor:
    """Masks every registered secret value, and credentials written into URLs and
    connection strings (:func:`golive.checks.redaction.redact_text`), in any text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def register(self, value: str) -> None:
        if len(value) >= _MIN_SECRET_LENGTH:
            with self._lock:
                self._secrets.add(value)

    def redact(self, value: Any) -> Any:
        """Redact strings, recursively through dicts and lists; other values pass through."""
        if isinstance(value, str):
            with self._lock:  # a probe may register a secret meanwhile
                secrets = sorted(self._secrets, key=len, reverse=True)
            for secret in secrets:
                if secret in value:
                    value = value.replace(secret, MASK)
            return redact_text(value)
        if isinstance(value, dict):
            return {self.redact(k): self.redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        return value


REDACTOR = Redactor()


def redact(value: Any) -> Any:
    return REDACTOR.redact(value)
