"""A message the checks layer words, carried as a catalogue key and its values.

The checks layer decides in English (logs, JSON and the database keep that text); the
surfaces render the same message in the checklist's language from the key, through the
catalogue in :mod:`golive.bot.render.messages`. A value may itself be a phrase (a waiver
over stale evidence explains both)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phrase:
    key: str
    values: tuple[tuple[str, str | int | float | Phrase], ...] = ()

    @classmethod
    def of(cls, key: str, **values: str | int | float | Phrase) -> Phrase:
        return cls(key, tuple(values.items()))
