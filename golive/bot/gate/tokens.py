"""The verdict API's bearer tokens: named, so that one can be revoked alone.

``GOLIVE_API_TOKENS`` holds comma-separated ``name=token`` pairs; ``GOLIVE_API_TOKENS_FILE``
names a file with one ``name=token`` a line (``#`` starts a comment), re-read when it
changes, so a token is revoked by editing the file (a mounted Secret) without a restart.
No token configured leaves the API off. Tokens are compared in constant time, and only
a token's name is ever logged or shown.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TOKENS_ENV = "GOLIVE_API_TOKENS"
TOKENS_FILE_ENV = "GOLIVE_API_TOKENS_FILE"
#: A token shorter than this is refused: it could be guessed.
MIN_TOKEN_CHARS = 16


def parse_tokens(entries: list[str], source: str) -> dict[str, str]:
    """``name=token`` entries → {name: token}; ValueError names the bad entry by its
    position and name, never by its token."""
    tokens: dict[str, str] = {}
    for number, raw in enumerate(entries, 1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, token = entry.partition("=")
        name, token = name.strip(), token.strip()
        if not sep or not name or not token:
            raise ValueError(f"{source} entry {number} is not name=token")
        if len(token) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"{source} entry {number} ({name}): the token has {len(token)} characters, "
                f"at least {MIN_TOKEN_CHARS} are needed (e.g. `openssl rand -hex 24`)"
            )
        if name in tokens:
            raise ValueError(f"{source} names {name!r} twice")
        tokens[name] = token
    return tokens


@dataclass
class ApiTokens:
    """The tokens in force: those of the environment and of the file as last read."""

    fixed: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None
    _file_tokens: dict[str, str] = field(default_factory=dict)
    _file_stamp: tuple[float, int] | None = None

    @classmethod
    def from_variables(cls, env: Mapping[str, str]) -> ApiTokens:
        """ValueError names a malformed setting and how to fix it."""
        fixed = parse_tokens((env.get(TOKENS_ENV) or "").split(","), TOKENS_ENV)
        path = Path(env[TOKENS_FILE_ENV]) if env.get(TOKENS_FILE_ENV) else None
        tokens = cls(fixed=fixed, path=path)
        tokens.current()  # a malformed file fails at start, not at the first request
        return tokens

    def current(self) -> dict[str, str]:
        """{name: token}, the file re-read when its modification time or size changed.
        A file that became malformed or unreadable keeps the last good tokens."""
        if self.path is not None:
            try:
                stat = self.path.stat()
                stamp = (stat.st_mtime, stat.st_size)
                if stamp != self._file_stamp:
                    lines = self.path.read_text(encoding="utf-8").splitlines()
                    self._file_tokens = parse_tokens(lines, str(self.path))
                    self._file_stamp = stamp
            except FileNotFoundError:
                self._file_tokens, self._file_stamp = {}, None
            except (OSError, ValueError):
                if self._file_stamp is None:
                    raise
        return {**self._file_tokens, **self.fixed}

    @property
    def enabled(self) -> bool:
        return bool(self.current())

    def holder(self, presented: str) -> str | None:
        """The name of the token presented, or None. Every token is compared (in
        constant time), so the answer's timing does not tell which one came close."""
        found: str | None = None
        given = presented.encode()
        for name, token in self.current().items():
            if hmac.compare_digest(given, token.encode()):
                found = name
        return found
