"""Every secret a checklist refers to, known to the redactor before anything runs.

A probe registers the secrets it reads when it reads them; until then a value could
show up elsewhere first: in a library's debug line about another probe's request, in a
target's error that echoes it, or not at all in a run limited to one phase. Reading
every reference at start closes that gap; a reference that cannot be read now is left
to the probe, which reports it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from .errors import ProbeError
from .model import Checklist
from .secrets import SecretRef


def secret_refs(value: Any) -> Iterator[SecretRef]:
    """Every :class:`SecretRef` in a model, a list or a mapping, however deep."""
    if isinstance(value, SecretRef):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secret_refs(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secret_refs(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from secret_refs(item)


def register_checklist_secrets(checklist: Checklist) -> None:
    """Read every secret the checklist and its probes refer to, so the redactor masks it."""
    configs = [item.config for item in checklist.items()]
    for ref in secret_refs([checklist, *configs]):
        with contextlib.suppress(ProbeError):  # not there yet: the probe will say so
            ref.resolve()
