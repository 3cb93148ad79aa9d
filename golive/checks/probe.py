"""What a probe is, and the one registry of probe types.

A probe type is a frozen record: a typed config model, an async ``gather`` that does all
the I/O and returns an :class:`Observation`, the values it observes (the placeholders
conditions may use), default conditions, and an example config. Evaluation is not the
probe's business: :mod:`golive.checks.evaluate` decides PASS/WARN/FAIL from the
observation and the item's conditions, without I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from . import families  # the catalogue only: it imports no family until asked
from .status import Status


class ProbeConfig(BaseModel):
    """Base of every probe's config: frozen, and unknown fields are errors.

    Each config model's validator is built when first used, not when its family is
    imported: loading a checklist builds those of the types it uses, not all of them."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    type: str

    @classmethod
    def load_client(cls) -> None:
        """Import the library the probe talks through, where that is slow (a no-op here).
        Probe modules import such libraries when first probing, not when a checklist loads;
        the runner calls this before any probe's clock starts, so that first import, up to
        seconds on a busy machine, is no probe's time."""


@dataclass(frozen=True)
class Evidence:
    """Where a result comes from and when that source was produced.

    ``observed_at`` is the age of the evidence itself (a report's own timestamp, a file's
    modification time, the moment a live target answered), which is what max_age limits.
    """

    source: str
    observed_at: datetime
    link: str | None = None


@dataclass(frozen=True)
class Observation:
    values: Mapping[str, Any]
    evidence: Evidence
    #: A probe's own judgement where its protocol has one (a Nagios exit code); the
    #: item's conditions can only make it worse.
    status: Status | None = None
    message: str | None = None


@dataclass(frozen=True)
class Value:
    """One observed value a condition may name as ``[NAME]``."""

    name: str
    description: str
    unit: str = ""
    #: True when conditions may walk into it (``[BODY].status``).
    structured: bool = False


T = TypeVar("T")


class RunShared:
    """What the probes of one run share, built by the first probe that needs it and closed
    when the run ends: connection pools, so that a thousand probes of one target reuse
    connections instead of each building a client, a TLS context and a connection."""

    def __init__(self) -> None:
        self._built: dict[Hashable, tuple[asyncio.Task[Any], Callable[[Any], Awaitable[object]]]] = {}

    async def get(
        self, key: Hashable, build: Callable[[], Awaitable[T]], close: Callable[[T], Awaitable[object]]
    ) -> T:
        """The thing ``key`` names, built once (``build``) however many probes ask at once;
        ``close`` runs when the run ends. A build that failed fails every probe that asks.
        Built in a task of its own: a probe cut at its timeout does not cut the build
        short for the others."""
        if key not in self._built:
            self._built[key] = (asyncio.ensure_future(build()), close)
        task = self._built[key][0]
        return cast(T, await asyncio.shield(task))

    async def aclose(self) -> None:
        built, self._built = self._built, {}
        for task, close in reversed(built.values()):
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            elif not task.cancelled() and task.exception() is None:
                await close(task.result())


@asynccontextmanager
async def run_shared() -> AsyncIterator[RunShared]:
    shared = RunShared()
    try:
        yield shared
    finally:
        await shared.aclose()


@dataclass(frozen=True)
class ProbeContext:
    """What a probe may know about the run it is part of."""

    release_name: str
    release_version: str
    #: Relative report paths resolve against the checklist's folder.
    base_dir: Path
    timeout: float
    #: Bodies and report files larger than this are refused, not read into memory.
    max_body_bytes: int = 8 * 1024 * 1024
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: The checklist's allowed_hosts: probes that follow redirects check each hop.
    allowed_hosts: Sequence[str] | None = None
    #: What the run's probes share (connection pools); None outside a run, where a probe
    #: builds what it needs for itself and closes it when done.
    shared: RunShared | None = None


Gather = Callable[[Any, ProbeContext], Awaitable[Observation]]
#: Derived probes decide from the other results of a run (a ``DerivedContext``), no I/O.
Derive = Callable[[Any, Any], Observation]
Kind = Literal["auto", "manual", "derived"]


@dataclass(frozen=True)
class ProbeType:
    name: str
    summary: str
    config_model: type[ProbeConfig]
    gather: Gather | None
    values: tuple[Value, ...]
    default_conditions: tuple[str, ...]
    #: A complete, valid ``probe:`` mapping; the contract test loads and documents it.
    example: Mapping[str, Any]
    kind: Kind = "auto"
    derive: Derive | None = None
    #: Applied with the default conditions, when an item writes neither kind of its own.
    default_warn_conditions: tuple[str, ...] = ()
    #: For the authors' guide: how the probe reads what it observes, where that differs
    #: from a plain reading of the object (one sentence each).
    reading: tuple[str, ...] = ()

    def known_values(self) -> dict[str, bool]:
        known = {v.name: v.structured for v in self.values}
        known.update({v.name: v.structured for v in CONTEXT_VALUES})
        return known

    def units(self) -> dict[str, str]:
        return {v.name: v.unit for v in self.values if v.unit}


#: Values every condition may use, whatever the probe.
CONTEXT_VALUES = (
    Value("RELEASE_VERSION", "the release version declared in the checklist"),
    Value("RELEASE_NAME", "the release name declared in the checklist"),
)

class ProbeRegistry:
    """Probe types by name.

    The families register into the process's registry (:data:`REGISTRY`) as their modules
    are imported: one family when its type is first asked for, all of them when the whole
    registry is (see :mod:`golive.checks.families`). A caller that wants other probe types (a
    test's own) builds a registry of its own and runs with it inside :func:`using`; the
    process's registry is never changed after import.
    """

    def __init__(self, types: Iterable[ProbeType] = ()) -> None:
        self._types: dict[str, ProbeType] = {}
        for probe_type in types:
            self.add(probe_type)

    def add(self, probe_type: ProbeType) -> ProbeType:
        if probe_type.name in self._types:
            raise ValueError(f"probe type {probe_type.name!r} is registered twice")
        self._types[probe_type.name] = probe_type
        return probe_type

    def get(self, name: str) -> ProbeType:
        """The probe type; ``KeyError`` when there is none of that name."""
        return self._types[name]

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def types(self) -> dict[str, ProbeType]:
        return dict(self._types)


#: The families' registry: every module of golive.checks.families adds its type here.
REGISTRY = ProbeRegistry()
_INJECTED: ContextVar[ProbeRegistry | None] = ContextVar("probe_registry", default=None)


def register(probe_type: ProbeType) -> ProbeType:
    return REGISTRY.add(probe_type)


def family_registry() -> ProbeRegistry:
    """The process's registry, with every family registered."""
    families.load_all()
    return REGISTRY


def current_registry() -> ProbeRegistry:
    """The registry :func:`using` put in place, else the families'."""
    injected = _INJECTED.get()
    return injected if injected is not None else family_registry()


@contextmanager
def using(registry: ProbeRegistry) -> Iterator[ProbeRegistry]:
    """Load, run and decide with ``registry`` inside this block (this task and the tasks
    and threads it starts)."""
    token = _INJECTED.set(registry)
    try:
        yield registry
    finally:
        _INJECTED.reset(token)


def probe_type(name: str) -> ProbeType:
    """The probe type ``name`` (``KeyError`` if there is none); of the families, only its
    own is imported."""
    injected = _INJECTED.get()
    if injected is not None:
        return injected.get(name)
    if name not in REGISTRY:
        if name in families.CATALOGUE:
            families.load(name)
        else:
            families.load_all()  # then KeyError, unless a family registers it unlisted
    return REGISTRY.get(name)


def probe_kind(name: str) -> Kind:
    """Whether items of probe type ``name`` are probed, confirmed or derived; read from the
    families' catalogue, so deciding a verdict imports no family it does not derive with."""
    if _INJECTED.get() is None:
        known = families.CATALOGUE.get(name)
        if known is not None:
            return known[1]
    return probe_type(name).kind


def all_probe_types() -> dict[str, ProbeType]:
    return current_registry().types()
