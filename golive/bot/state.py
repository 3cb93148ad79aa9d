"""What the use cases hand the renderers: the release's state, how a run's checklist
changed, and an alert to post. Plain data; built in :mod:`golive.bot.core`, shown by
:mod:`golive.bot.render`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ..checks.model import Checklist, Item
from ..checks.results import ItemResult, Records
from ..checks.verdict import Verdict
from ..storage import Note, RunInfo

PostKind = Literal["failing", "degraded", "reminder", "resolved"]


@dataclass(frozen=True)
class ChecklistChange:
    """How a run's checklist differs from the one the run before it used."""

    previous_digest: str
    digest: str
    #: Item ids, in checklist order; both empty when only other content changed, or when
    #: the previous checklist is not stored or no longer loads.
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class State:
    """Everything a status, report or announcement shows.

    The state a run reports is its own: ``run`` is that run, ``own_run`` its id, and the
    probe results are those it observed (for a phase run, the other phases' latest
    results, from the runs named in ``observed_in``). Otherwise it is the release's
    current state: the newest observation of each item, whichever run made it."""

    checklist: Checklist
    release_id: int
    run: RunInfo | None
    results: dict[str, ItemResult]
    records: Records
    verdict: Verdict
    notes: list[Note]
    at: datetime
    #: The run that observed each probe result, by item id (manual and derived items are
    #: decided from what people recorded, so they have none).
    observed_in: Mapping[str, int] = field(default_factory=dict)
    #: Set when this state is a run's own report.
    own_run: int | None = None
    #: Set on a run's own report when its checklist differs from the previous run's.
    checklist_change: ChecklistChange | None = None

    def result(self, item: Item) -> ItemResult | None:
        return self.results.get(item.id)

    def from_this_run(self) -> list[str]:
        """Item ids (checklist order) whose result this run observed itself."""
        if self.own_run is None:
            return []
        return [i.id for i in self.checklist.items() if self._source(i.id) == self.own_run]

    def from_earlier_runs(self) -> dict[str, int]:
        """Item id → the earlier run whose result a phase run shows for it."""
        if self.own_run is None:
            return {}
        earlier = {i.id: self._source(i.id) for i in self.checklist.items()}
        return {item: run for item, run in earlier.items() if run is not None and run != self.own_run}

    def _source(self, item_id: str) -> int | None:
        return self.observed_in.get(item_id)


@dataclass(frozen=True)
class Post:
    kind: PostKind
    #: The notification key claimed before posting; see the module docstring.
    key: str
    #: Since when the item is not fine: for reminders and "resolved" (the state they
    #: leave began then), else the moment of the post.
    since: datetime
