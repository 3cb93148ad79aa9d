"""``/golive diff <runA> <runB>``: what changed between two runs.

:func:`diff_runs` compares stored results without I/O: items that were fine in A and are
not in B (newly failing), the reverse (fixed), other status changes (FAIL → ERROR), and
observed values that changed. Only values a person can read in a line are compared
(numbers, strings, booleans); structured ones (a response body, per-series values) are
left to the evidence. :func:`diff_message` renders it; :func:`run_diff` reads the runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...checks.model import Checklist
from ...checks.results import ItemResult
from ...checks.status import Status
from ...checks.verdict import item_ok
from ...storage import Store
from ..render.blocks import (
    Message,
    checklist_change_line,
    context,
    mrkdwn_escape,
    paginate,
    section,
    split_text,
)
from ..render.messages import text
from ..render.mrkdwn import clip, escape
from ..state import ChecklistChange
from .errors import UserError
from .usecases import checklist_change, release_context, stored_checklist

_SHOWN_VALUE = 80


@dataclass(frozen=True)
class StatusChange:
    item_id: str
    before: Status
    after: Status
    message: str


@dataclass(frozen=True)
class ValueChange:
    item_id: str
    name: str
    before: Any
    after: Any


@dataclass(frozen=True)
class RunDiff:
    newly_failing: tuple[StatusChange, ...]
    fixed: tuple[StatusChange, ...]
    changed: tuple[StatusChange, ...]
    values: tuple[ValueChange, ...]
    #: Items that ran in only one of the two runs (a phase run against a full one).
    not_compared: int

    @property
    def empty(self) -> bool:
        return not (self.newly_failing or self.fixed or self.changed or self.values)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def diff_runs(
    checklist: Checklist, before: Mapping[str, ItemResult], after: Mapping[str, ItemResult]
) -> RunDiff:
    newly_failing: list[StatusChange] = []
    fixed: list[StatusChange] = []
    changed: list[StatusChange] = []
    values: list[ValueChange] = []
    both = [item for item in checklist.items() if item.id in before and item.id in after]
    for item in both:
        a, b = before[item.id], after[item.id]
        change = StatusChange(item.id, a.status, b.status, b.message)
        if item_ok(item, a.status) and not item_ok(item, b.status):
            newly_failing.append(change)
        elif not item_ok(item, a.status) and item_ok(item, b.status):
            fixed.append(change)
        elif a.status != b.status:
            changed.append(change)
        for name in sorted(set(a.observed) | set(b.observed)):
            old, new = a.observed.get(name), b.observed.get(name)
            if _scalar(old) and _scalar(new) and not _same(old, new):
                values.append(ValueChange(item.id, name, old, new))
    only_one = (set(before) ^ set(after)) & {item.id for item in checklist.items()}
    return RunDiff(tuple(newly_failing), tuple(fixed), tuple(changed), tuple(values), len(only_one))


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        value = f"{value:.4g}"
    return mrkdwn_escape(clip(str(value), _SHOWN_VALUE))


def diff_message(
    checklist: Checklist,
    before: int,
    after: int,
    diff: RunDiff,
    same_checklist: bool = True,
    items_changed: ChecklistChange | None = None,
) -> list[Message]:
    language = checklist.release.language
    title = text(
        language,
        "diff_header",
        before=before,
        after=after,
        release=f"{checklist.release.name} v{checklist.release.version}",
    )
    lines: list[str] = []
    for key, changes in (
        ("diff_newly_failing", diff.newly_failing),
        ("diff_fixed", diff.fixed),
        ("diff_status_changed", diff.changed),
    ):
        if not changes:
            continue
        lines.append(text(language, key, count=len(changes)))
        for change in changes:
            lines.append(
                text(
                    language,
                    "diff_line",
                    title=mrkdwn_escape(checklist.item(change.item_id).title),
                    item=escape(change.item_id),
                    before=change.before,
                    after=change.after,
                    message=mrkdwn_escape(clip(change.message, 200)),
                )
            )
        lines.append("")
    if diff.values:
        lines.append(text(language, "diff_values_changed", count=len(diff.values)))
        lines += [
            text(
                language,
                "diff_value_line",
                item=escape(v.item_id),
                name=escape(clip(v.name, 200)),
                before=_shown(v.before),
                after=_shown(v.after),
            )
            for v in diff.values
        ]
    if diff.empty:
        lines.append(text(language, "diff_nothing"))
    blocks = [section(part) for part in split_text("\n".join(lines).strip())]
    notes = []
    if diff.not_compared:
        notes.append(text(language, "diff_not_compared", count=diff.not_compared))
    if items_changed is not None:
        notes.append(checklist_change_line(checklist, items_changed))
    elif not same_checklist:
        notes.append(text(language, "diff_other_checklist"))
    if notes:
        blocks.append(context(*notes))
    summary = text(
        language,
        "diff_summary",
        failing=len(diff.newly_failing),
        fixed=len(diff.fixed),
        changed=len(diff.changed),
        values=len(diff.values),
    )
    return paginate(title, blocks, f"{escape(title)}: {summary}", language)


def parse_runs(words: str) -> tuple[int, int] | None:
    """``"12 15"`` or ``"#12 #15"`` → (12, 15); None when that is not what was written."""
    parts = [part.lstrip("#") for part in words.split()]
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return None
    return int(parts[0]), int(parts[1])


async def run_diff_from_store(
    store: Store, before: int, after: int, checklist: Checklist | None = None
) -> list[Message]:
    """``golive diff``: with no checklist named, the later run's own, as stored."""
    if checklist is None:
        checklist = await stored_checklist(store, run_id=after)
    return await run_diff(checklist, store, before, after)


async def run_diff(checklist: Checklist, store: Store, before: int, after: int) -> list[Message]:
    """Both runs must belong to this checklist's release; UserError names the one that does not.
    When they used different checklists and both are stored, the items one added or removed
    are named."""
    release = await release_context(checklist, store)
    runs = []
    for run_id in (before, after):
        run = await store.run(run_id)
        if run is None or run.release_id != release.id:
            raise UserError(text(checklist.release.language, "diff_unknown_run", run=run_id))
        runs.append(run)
    diff = diff_runs(checklist, await store.run_results(before), await store.run_results(after))
    same = runs[0].checklist_digest == runs[1].checklist_digest
    digests = runs[0].checklist_digest, runs[1].checklist_digest
    items_changed = None if same else await checklist_change(store, *digests)
    return diff_message(checklist, before, after, diff, same, items_changed)
