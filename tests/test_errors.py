"""The error tree drawn in golive.errors is the tree the code raises."""

from __future__ import annotations

import importlib
import pkgutil
import re

import golive
from golive import errors
from golive.bot.core.errors import NotApprover, UserError
from golive.checks.errors import ChecklistError, PermanentProbeError, ProbeError, TemporaryProbeError
from golive.storage.errors import RunAborted, StorageError


def every_golive_error() -> set[type[BaseException]]:
    for module in pkgutil.walk_packages(golive.__path__, "golive."):
        if ".migrations." not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: set[type[BaseException]] = set()
    todo: list[type[BaseException]] = [errors.GoliveError]
    while todo:
        kind = todo.pop()
        found.add(kind)
        todo.extend(kind.__subclasses__())
    return found


def test_every_error_golive_raises_on_purpose_is_drawn_in_the_tree() -> None:
    drawing = errors.__doc__ or ""
    # Errors a test defines for itself are not part of the tree.
    ours = {k for k in every_golive_error() if k.__module__.startswith("golive.")}
    defined = {k.__name__ for k in ours} - {"GoliveError"}
    missing = {name for name in defined if not re.search(rf"\b{name}\b", drawing)}
    assert missing == set(), "draw these in golive/errors.py"
    assert len(defined) >= 15, defined  # the walk found the layers' errors
    for value_error in ("ConditionSyntaxError", "UnknownPhase"):
        assert re.search(rf"\b{value_error}\b", drawing)


def test_each_layer_subclasses_the_one_root() -> None:
    for kind in (ChecklistError, ProbeError, StorageError, RunAborted, UserError):
        assert issubclass(kind, errors.GoliveError), kind
    assert issubclass(NotApprover, UserError)
    assert not issubclass(TemporaryProbeError, PermanentProbeError)
    assert not issubclass(PermanentProbeError, TemporaryProbeError)
