"""Load a checklist: parse YAML, interpolate, validate everything, report every problem.

Invalid checklists never half-load: :func:`load` raises :class:`ChecklistError` listing
*all* problems at once, each naming the item id (or top-level path) and the field.

An item whose probe parameters reference an environment variable that is unset is not an
error: the checklist is valid, that item is just not configured here. It runs as ERROR
with a message naming the variable to set.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .conditions import Condition, ConditionSyntaxError, check_placeholders, parse
from .errors import ChecklistError, Problem
from .hosts import disallowed, host_allowed, url_host
from .interpolate import interpolate, references
from .model import REPORTED_BY_BINDER, Binding, Checklist, Item, Origin
from .probe import ProbeConfig, ProbeType, all_probe_types, probe_kind, probe_type

_ITEM_KEYS_INTERPOLATED = ("probe", "conditions", "warn_conditions")
#: A checklist holds a few thousand values, a dozen levels deep. Far more values means
#: YAML aliases multiplied a few lines into millions (a "billion laughs"), and far
#: deeper nesting is no checklist either; both are refused before anything walks them.
MAX_VALUES = 200_000
MAX_DEPTH = 64
#: libyaml where PyYAML was built with it: the same YAML, parsed five times faster.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(path: str | Path, env: Mapping[str, str] | None = None) -> Checklist:
    source = str(path)
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise ChecklistError(
            source, [Problem("checklist", "", f"cannot read the file: {exc.strerror}")]
        ) from None
    return loads(text, source=source, env=env)


def loads(
    text: bytes | str,
    *,
    source: str = "<checklist>",
    env: Mapping[str, str] | None = None,
    bind_probes: bool = True,
) -> Checklist:
    """The checklist ``text`` holds, validated; :class:`ChecklistError` lists every problem.

    ``bind_probes=False`` is for a stored checklist only shown (`golive status`,
    `report`): its automated items' probe parameters are neither validated nor bound (their
    ``config`` stays None, their default conditions unset), which needs none of their
    probe families; manual and derived items are bound in full, as the verdict uses them.
    Such a checklist is not for running.
    """
    raw_bytes = text.encode() if isinstance(text, str) else text
    env = dict(os.environ) if env is None else env
    try:
        document = yaml.load(raw_bytes, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ChecklistError(source, [Problem("checklist", where, f"not valid YAML: {problem}")]) from None
    except RecursionError:
        raise ChecklistError(source, [Problem("checklist", "YAML", "nested too deeply")]) from None
    if not isinstance(document, dict):
        raise ChecklistError(
            source,
            [Problem("checklist", "top level", "the top level must be a mapping with release, phases, …")],
        )
    too_big = _size_problem(document)
    if too_big is not None:
        raise ChecklistError(source, [too_big])

    problems: list[Problem] = []
    document = _interpolate_document(document, env, problems)
    binder = _Binder(
        env,
        bind_probes,
        _raw_allowed_hosts(document),
        Origin(source, hashlib.sha256(raw_bytes).hexdigest(), raw_bytes.decode("utf-8", errors="replace")),
    )
    try:
        checklist = Checklist.model_validate(document, context=binder)
    except ValidationError as exc:
        problems.extend(binder.problems)
        problems.extend(_problems_from(exc))
        problems.extend(_cross_check(document))
        raise ChecklistError(source, problems) from None

    problems.extend(binder.problems)
    problems.extend(_rollback_hosts(checklist))
    problems.extend(_cross_check(document))
    if problems:
        raise ChecklistError(source, problems)
    return checklist


def _rollback_hosts(checklist: Checklist) -> list[Problem]:
    """The rollback watch asks each trigger's Prometheus: allowed_hosts covers it too."""
    problems = []
    for index, trigger in enumerate(checklist.rollback.triggers):
        host = url_host(trigger.prometheus_url) if trigger.prometheus_url else None
        if host is not None and not host_allowed(host, checklist.allowed_hosts):
            listed = ", ".join(checklist.allowed_hosts or []) or "none"
            message = f"host {host} is not in allowed_hosts ({listed})"
            problems.append(Problem("rollback", f"triggers.{index}.prometheus_url", message))
    return problems


def _size_problem(document: dict[str, Any]) -> Problem | None:
    """Refuse documents too large or too deep to be a checklist; walks iteratively, and
    stops at the limit, so an alias bomb costs no more than MAX_VALUES steps."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(document, ())]
    count = 0
    while stack:
        value, path = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return Problem(
                "checklist", "top level", f"more than {MAX_VALUES} values (YAML aliases repeated too often?)"
            )
        if len(path) > MAX_DEPTH:
            shown = ".".join(path[:6])
            return Problem("checklist", f"{shown}…", f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((v, (*path, str(k))) for k, v in value.items())
        elif isinstance(value, list | tuple | set | frozenset):
            stack.extend((v, (*path, str(i))) for i, v in enumerate(value))
    return None


def _list(value: Any) -> list[Any]:
    """A list-valued field of the raw document, or nothing when it has another type (the
    model reports that)."""
    return value if isinstance(value, list) else []


def _interpolate_document(
    document: dict[str, Any],
    env: Mapping[str, str],
    problems: list[Problem],
) -> dict[str, Any]:
    """Interpolate the document outside its phases; unset variables there are problems.

    Within phases the binder interpolates each item's probe parameters and conditions as
    the item validates; titles are the seed's words and stay as written.
    """
    result = copy.deepcopy(document)
    for key, value in document.items():
        if key == "phases":
            continue
        unset: set[str] = set()
        result[key] = interpolate(value, env, unset, keep_unset=True)
        for name in sorted(unset):
            places = _paths_with_unset(value, {name}, (key,)) or [(key,)]
            field = ", ".join(".".join(map(str, place)) for place in places)
            problems.append(Problem("checklist", field, f"${{{name}}} is not set and has no default"))
    return result


def _problems_from(exc: ValidationError) -> list[Problem]:
    """Problems outside items (the binder reported those under the item's name)."""
    return [
        Problem("checklist", _dotted(tuple(error["loc"])), _message(error))
        for error in exc.errors()
        if error["type"] != REPORTED_BY_BINDER
    ]


def _message(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling; see schema/checklist.schema.json)"
    if error["type"] == "missing":
        return "required field is missing"
    return error["msg"]


def _probe_message(error: ErrorDetails, probe_type: str) -> str:
    if error["type"] == "extra_forbidden":
        return f"unknown parameter for probe type {probe_type!r}"
    return error["msg"]


def _dotted(loc: tuple[int | str, ...]) -> str:
    """``phases.0.title``; a key that is empty or blank is quoted, so it still shows."""
    return ".".join(str(part) if str(part).strip() else repr(part) for part in loc)


def _raw_allowed_hosts(document: dict[str, Any]) -> list[str] | None:
    """allowed_hosts of a document that did not validate, where it is a list of strings."""
    found = document.get("allowed_hosts")
    if isinstance(found, list) and all(isinstance(pattern, str) for pattern in found):
        return found
    return None


@dataclass
class _Place:
    id: str
    owner: str | None
    items_seen: int = 0


@dataclass(frozen=True)
class _Prepared:
    unset: frozenset[str]
    raw_probe: Any


class _Binder:
    """Completes each item while the checklist validates (see :class:`model.Binder`);
    keeps every problem found, named by item and field."""

    def __init__(
        self, env: Mapping[str, str], bind_probes: bool, allowed_hosts: Sequence[str] | None, origin: Origin
    ) -> None:
        self._env = env
        self._bind_probes = bind_probes
        self._allowed_hosts = allowed_hosts
        self._origin = origin
        self._phase = _Place("", None)
        self._section = _Place("", None)
        self.problems: list[Problem] = []

    @contextmanager
    def within(self, kind: Literal["phase", "section"], data: Any) -> Iterator[None]:
        raw = data if isinstance(data, dict) else {}
        place = _Place(_text(raw.get("id")) or "", _text(raw.get("owner")))
        outer = self._phase if kind == "phase" else self._section
        self._set(kind, place)
        try:
            yield
        finally:
            self._set(kind, outer)

    def _set(self, kind: str, place: _Place) -> None:
        if kind == "phase":
            self._phase = place
        else:
            self._section = place

    def prepare_item(self, data: Any) -> tuple[Any, _Prepared]:
        self._section.items_seen += 1
        if not isinstance(data, dict):
            return data, _Prepared(frozenset(), None)
        unset: set[str] = set()
        prepared = dict(data)
        for key in _ITEM_KEYS_INTERPOLATED:
            if key in prepared:
                prepared[key] = interpolate(prepared[key], self._env, unset)
        return prepared, _Prepared(frozenset(unset), data.get("probe"))

    def item_rejected(self, data: Any, error: ValidationError) -> bool:
        if not isinstance(data, dict):
            return False
        item_id = data.get("id")
        where = (
            f"item {item_id}"
            if isinstance(item_id, str)
            else f"item #{self._section.items_seen} of section {self._section.id}"
        )
        self.problems.extend(Problem(where, _dotted(tuple(e["loc"])), _message(e)) for e in error.errors())
        return True

    def bind_item(self, item: Item, token: Any) -> Binding:
        prepared: _Prepared = token
        unset = set(prepared.unset)
        where = f"item {item.id}"
        place = Binding(
            unset=tuple(sorted(unset)),
            phase=self._phase.id,
            section=self._section.id,
            responsible=item.owner or self._section.owner or self._phase.owner,
        )
        if not self._bind_probes and _kind(item.probe_type) == "auto":
            return place
        probe_type = _probe_type(item.probe_type)
        if probe_type is None:
            known = ", ".join(sorted(all_probe_types()))
            message = f"unknown probe type {item.probe_type!r}; known: {known}"
            self.problems.append(Problem(where, "probe.type", message))
            return place
        config: ProbeConfig | None = None
        try:
            # The item's own type's model, not the union of all: only the models of the
            # types a checklist uses are built (see ProbeConfig).
            config = probe_type.config_model.model_validate(item.probe)
        except ValidationError as exc:
            unconfigured = _paths_with_unset(prepared.raw_probe, unset)
            for error in exc.errors():
                loc = tuple(error["loc"])
                # At an unset variable's place, or at the list it emptied: reported at run time.
                if any(loc[: len(path)] == path or path[: len(loc)] == loc for path in unconfigured):
                    continue
                message = _probe_message(error, probe_type.name)
                self.problems.append(Problem(where, _dotted(("probe", *loc)), message))
        if config is not None:
            for path, host in disallowed(config, self._allowed_hosts):
                listed = ", ".join(self._allowed_hosts or []) or "none"
                message = f"host {host} is not in allowed_hosts ({listed})"
                self.problems.append(Problem(where, f"probe.{path}", message))
        conditions = item.conditions if item.conditions is not None else list(probe_type.default_conditions)
        warn_conditions = item.warn_conditions
        if item.conditions is None and not item.warn_conditions:
            warn_conditions = list(probe_type.default_warn_conditions)
        known_values = probe_type.known_values()
        parsed = tuple(_parse_all(conditions, "conditions", item, known_values, self.problems))
        parsed_warn = tuple(_parse_all(warn_conditions, "warn_conditions", item, known_values, self.problems))
        if probe_type.kind != "auto" and (item.conditions or item.warn_conditions):
            message = f"a {probe_type.name} item takes no conditions"
            self.problems.append(Problem(where, "conditions", message))
        return replace(
            place, config=None if unset else config, conditions=parsed, warn_conditions=parsed_warn
        )

    def origin(self) -> Origin:
        return self._origin


def _probe_type(name: str) -> ProbeType | None:
    try:
        return probe_type(name)
    except KeyError:
        return None


def _kind(name: str) -> str | None:
    try:
        return probe_kind(name)
    except KeyError:
        return None  # reported as unknown when bound


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _parse_all(
    texts: list[str], field: str, item: Item, known: dict[str, bool], problems: list[Problem]
) -> list[Condition]:
    parsed = []
    for index, text in enumerate(texts):
        try:
            condition = parse(text)
        except ConditionSyntaxError as exc:
            problems.append(Problem(f"item {item.id}", f"{field}[{index}]", str(exc)))
            continue
        for message in check_placeholders(condition, known):
            problems.append(Problem(f"item {item.id}", f"{field}[{index}]", message))
        parsed.append(condition)
    return parsed


def _paths_with_unset(value: Any, unset: set[str], path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if not unset:
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths_with_unset(v, unset, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths_with_unset(v, unset, (*path, i))]
    return [path] if references(value) & unset else []


def _cross_check(document: dict[str, Any]) -> list[Problem]:
    """References between items, ids and roles, checked on the raw document so they are
    reported even when other parts of it are invalid."""
    problems: list[Problem] = []
    phases = [p for p in _list(document.get("phases")) if isinstance(p, dict)]
    sections = [s for p in phases for s in _list(p.get("sections")) if isinstance(s, dict)]
    containers = [x.get("id") for x in phases + sections]
    for duplicate in sorted({str(c) for c in containers if c is not None and containers.count(c) > 1}):
        problems.append(Problem("checklist", "id", f"phase/section id {duplicate!r} is used twice"))
    role_ids = [r.get("id") for r in _list(document.get("signoffs")) if isinstance(r, dict)]
    for duplicate in sorted({str(r) for r in role_ids if role_ids.count(r) > 1}):
        problems.append(Problem(f"signoff {duplicate}", "id", "used twice"))
    roles = {str(r) for r in role_ids}
    entries = []
    for phase in phases:
        for section in _list(phase.get("sections")):
            if not isinstance(section, dict):
                continue
            for item in _list(section.get("items")):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    owner = item.get("owner") or section.get("owner") or phase.get("owner")
                    # Other types are the model's to report; here they would not hash.
                    owner = owner if isinstance(owner, str) else None
                    entries.append((item["id"], owner, _list(item.get("depends_on"))))
    ids = {entry[0] for entry in entries}
    seen: set[str] = set()
    for item_id, owner, depends_on in entries:
        where = f"item {item_id}"
        if item_id in seen:
            problems.append(Problem(where, "id", "used twice; item ids must be unique"))
        seen.add(item_id)
        if owner is not None and owner not in roles:
            known = ", ".join(sorted(roles)) or "none"
            problems.append(Problem(where, "owner", f"{owner!r} is not a sign-off role; roles: {known}"))
        for dependency in depends_on:
            if dependency not in ids:
                problems.append(Problem(where, "depends_on", f"no item {dependency!r}"))
    problems.extend(_alert_references(document, ids))
    graph: dict[str, list[str]] = {}
    for item_id, _, depends_on in entries:
        graph.setdefault(item_id, []).extend(d for d in depends_on if isinstance(d, str))
    problems.extend(_cycles(graph))
    return problems


def _alert_references(document: dict[str, Any], ids: set[str]) -> list[Problem]:
    """Silences name existing items; rollback triggers have distinct names (the rollback
    watch keeps its state, and posts its call once, per trigger name)."""
    problems: list[Problem] = []
    alerts = document.get("alerts")
    silences = alerts.get("silences") if isinstance(alerts, dict) else None
    for index, silence in enumerate(silences if isinstance(silences, list) else []):
        named = silence.get("items") if isinstance(silence, dict) else None
        for item_id in named if isinstance(named, list) else []:
            if item_id not in ids:
                problems.append(Problem(f"alerts.silences[{index}]", "items", f"no item {item_id!r}"))
    rollback = document.get("rollback")
    triggers = rollback.get("triggers") if isinstance(rollback, dict) else None
    names = [t.get("name") for t in triggers if isinstance(t, dict)] if isinstance(triggers, list) else []
    for duplicate in sorted({str(n) for n in names if n is not None and names.count(n) > 1}):
        problems.append(Problem(f"rollback trigger {duplicate}", "name", "used twice"))
    return problems


def _cycles(graph: dict[str, list[str]]) -> list[Problem]:
    """Every dependency cycle, each once, as ``a → b → a`` (a depends on b).

    :class:`graphlib.TopologicalSorter` finds one cycle at a time without recursion, so a
    chain of any length is fine; an edge of each cycle found is set aside and the rest
    checked again, until the graph sorts."""
    edges = {node: list(dict.fromkeys(dependencies)) for node, dependencies in graph.items()}
    problems: list[Problem] = []
    while True:
        try:
            TopologicalSorter(edges).prepare()
        except CycleError as exc:
            cycle: list[str] = list(exc.args[1])
            if cycle[1] not in edges.get(cycle[0], ()):  # graphlib may walk it backwards
                cycle.reverse()
            problems.append(Problem(f"item {cycle[0]}", "depends_on", "cycle: " + " → ".join(cycle)))
            edges[cycle[0]].remove(cycle[1])
        else:
            return problems
