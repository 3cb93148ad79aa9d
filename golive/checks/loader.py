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
from collections.abc import Mapping, Sequence
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .conditions import Condition, ConditionSyntaxError, check_placeholders, parse
from .errors import ChecklistError, Problem
from .hosts import disallowed, host_allowed, url_host
from .interpolate import interpolate, references
from .model import Checklist, Item
from .probe import all_probe_types

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
    text: bytes | str, *, source: str = "<checklist>", env: Mapping[str, str] | None = None
) -> Checklist:
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
    item_unset: dict[int, tuple[set[str], Any]] = {}
    document = _interpolate_document(document, env, problems, item_unset)

    try:
        checklist = Checklist.model_validate(document)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, document))
        # Still check the probe parameters and conditions of every item that is fine on
        # its own, so one run of `golive validate` shows everything there is to fix.
        for index, raw in enumerate(_raw_items(document)):
            try:
                item = Item.model_validate(raw)
            except ValidationError:
                continue
            problems.extend(
                _bind_item(item, *item_unset.get(index, (set(), None)), _raw_allowed_hosts(document))
            )
        problems.extend(_cross_check(document))
        raise ChecklistError(source, problems) from None

    for index, item in enumerate(checklist.items()):
        problems.extend(_bind_item(item, *item_unset.get(index, (set(), None)), checklist.allowed_hosts))
    problems.extend(_rollback_hosts(checklist))
    _annotate_positions(checklist)
    problems.extend(_cross_check(document))
    if problems:
        raise ChecklistError(source, problems)
    checklist._source = source
    checklist._digest = hashlib.sha256(raw_bytes).hexdigest()
    checklist._content = raw_bytes.decode("utf-8", errors="replace")
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


def _raw_items(document: dict[str, Any]) -> list[Any]:
    """Items in document order, counted the way ``_interpolate_document`` counts them."""
    found: list[Any] = []
    for phase in _list(document.get("phases")):
        if isinstance(phase, dict) and isinstance(phase.get("sections"), list):
            for section in phase["sections"]:
                if isinstance(section, dict) and isinstance(section.get("items"), list):
                    found.extend(section["items"])
    return found


def _interpolate_document(
    document: dict[str, Any],
    env: Mapping[str, str],
    problems: list[Problem],
    item_unset: dict[int, tuple[set[str], Any]],
) -> dict[str, Any]:
    """Interpolate the document; unset variables outside item probes are problems.

    Within phases only the items' probe parameters and conditions are interpolated:
    titles are the seed's words and stay as written.
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
    for index, item in enumerate(_raw_items(result)):
        if isinstance(item, dict):
            unset = set()
            raw_probe = item.get("probe")
            for key in _ITEM_KEYS_INTERPOLATED:
                if key in item:
                    item[key] = interpolate(item[key], env, unset)
            item_unset[index] = (unset, raw_probe)
    return result


def _item_name(document: dict[str, Any], loc: tuple[int | str, ...]) -> tuple[str, int]:
    """For a loc inside an item, ('item <id>', length of the loc prefix naming the item)."""
    try:
        phase = document["phases"][loc[1]]
        section = phase["sections"][loc[3]]
        item = section["items"][loc[5]]
    except (KeyError, IndexError, TypeError):
        return "checklist", 0
    item_id = item.get("id") if isinstance(item, dict) else None
    label = (
        f"item {item_id}"
        if isinstance(item_id, str)
        else (f"item #{int(loc[5]) + 1} of section {section.get('id', loc[3])}")
    )
    return label, 6


def _problems_from(exc: ValidationError, document: dict[str, Any]) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where, used = "checklist", 0
        if len(loc) > 6 and loc[0] == "phases" and loc[2] == "sections" and loc[4] == "items":
            where, used = _item_name(document, loc)
        field = _dotted(loc[used:])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see schema/checklist.schema.json)"
        elif error["type"] == "missing":
            message = "required field is missing"
        problems.append(Problem(where, field, message))
    return problems


def _dotted(loc: tuple[int | str, ...]) -> str:
    """``phases.0.title``; a key that is empty or blank is quoted, so it still shows."""
    return ".".join(str(part) if str(part).strip() else repr(part) for part in loc)


def _raw_allowed_hosts(document: dict[str, Any]) -> list[str] | None:
    """allowed_hosts of a document that did not validate, where it is a list of strings."""
    found = document.get("allowed_hosts")
    if isinstance(found, list) and all(isinstance(pattern, str) for pattern in found):
        return found
    return None


def _bind_item(
    item: Item, unset: set[str], raw_probe: Any, allowed_hosts: Sequence[str] | None = None
) -> list[Problem]:
    """Validate the item's probe config and conditions; store them on the item."""
    where = f"item {item.id}"
    types = all_probe_types()
    probe_type = types.get(item.probe_type)
    if probe_type is None:
        known = ", ".join(sorted(types))
        return [Problem(where, "probe.type", f"unknown probe type {item.probe_type!r}; known: {known}")]
    problems: list[Problem] = []
    item._unset = tuple(sorted(unset))
    try:
        item._config = probe_type.config_model.model_validate(item.probe)
    except ValidationError as exc:
        unconfigured = _paths_with_unset(raw_probe, unset)
        for error in exc.errors():
            loc = tuple(error["loc"])
            # At an unset variable's place, or at the list it emptied: reported at run time.
            if any(loc[: len(path)] == path or path[: len(loc)] == loc for path in unconfigured):
                continue
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = f"unknown parameter for probe type {probe_type.name!r}"
            problems.append(Problem(where, _dotted(("probe", *loc)), message))
    if item._config is not None:
        for path, host in disallowed(item._config, allowed_hosts):
            listed = ", ".join(allowed_hosts or []) or "none"
            message = f"host {host} is not in allowed_hosts ({listed})"
            problems.append(Problem(where, f"probe.{path}", message))
    if unset:
        item._config = None

    conditions = item.conditions if item.conditions is not None else list(probe_type.default_conditions)
    warn_conditions = item.warn_conditions
    if item.conditions is None and not item.warn_conditions:
        warn_conditions = list(probe_type.default_warn_conditions)
    item._conditions = tuple(_parse_all(conditions, "conditions", item, probe_type.known_values(), problems))
    item._warn_conditions = tuple(
        _parse_all(warn_conditions, "warn_conditions", item, probe_type.known_values(), problems)
    )
    if probe_type.kind != "auto" and (item.conditions or item.warn_conditions):
        problems.append(Problem(where, "conditions", f"a {probe_type.name} item takes no conditions"))
    return problems


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


def _annotate_positions(checklist: Checklist) -> None:
    for phase in checklist.phases:
        for section in phase.sections:
            for item in section.items:
                item._phase = phase.id
                item._section = section.id
                item._responsible = item.owner or section.owner or phase.owner


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
