"""Load a checklist: parse YAML, interpolate, validate everything, report every problem.

Invalid checklists never half-load: :func:`load` raises :class:`ChecklistError` listing
*all* problems at once, each naming the item id (or top-level path) and the field.

An item whose probe parameters reference an environment variable that is unset is not an
error: the checklist is valid, that item is just not configured here. It runs as ERROR
with a message naming the variable to set.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .conditions import Condition, ConditionSyntaxError, check_placeholders, parse
from .errors import ChecklistError, Problem
from .interpolate import interpolate, references
from .model import Checklist, Item
from .probe import all_probe_types

_ITEM_KEYS_INTERPOLATED = ("probe", "conditions", "warn_conditions")


def load(path: str | Path, env: Mapping[str, str] | None = None) -> Checklist:
    source = str(path)
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise ChecklistError(
            source, [Problem("checklist", "", f"cannot read the file: {exc.strerror}")]
        ) from None
    return loads(text, source=source, env=env)


def loads(text: bytes | str, *, source: str = "<checklist>", env: Mapping[str, str] | None = None) -> Checklist:
    raw_bytes = text.encode() if isinstance(text, str) else text
    env = dict(os.environ) if env is None else env
    try:
        document = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ChecklistError(source, [Problem("checklist", where, f"not valid YAML: {problem}")]) from None
    if not isinstance(document, dict):
        raise ChecklistError(
            source, [Problem("checklist", "", "the top level must be a mapping with release, phases, …")]
        )

    problems: list[Problem] = []
    item_unset: dict[int, set[str]] = {}
    document = _interpolate_document(document, env, problems, item_unset)

    try:
        checklist = Checklist.model_validate(document)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, document))
        raise ChecklistError(source, problems) from None

    for index, item in enumerate(checklist.items()):
        problems.extend(_bind_item(item, item_unset.get(index, set())))
    _annotate_positions(checklist)
    problems.extend(_cross_check(checklist))
    if problems:
        raise ChecklistError(source, problems)
    checklist._source = source
    checklist._digest = hashlib.sha256(raw_bytes).hexdigest()
    return checklist


def _interpolate_document(
    document: dict[str, Any], env: Mapping[str, str], problems: list[Problem], item_unset: dict[int, set[str]]
) -> dict[str, Any]:
    """Interpolate the whole document; unset variables outside item probes are problems."""
    index = 0
    result: dict[str, Any] = {}
    for key, value in document.items():
        if key != "phases" or not isinstance(value, list):
            unset: set[str] = set()
            result[key] = interpolate(value, env, unset)
            for name in sorted(unset):
                problems.append(Problem(str(key), "", f"${{{name}}} is not set and has no default"))
            continue
        phases = []
        for phase in value:
            if not isinstance(phase, dict) or not isinstance(phase.get("sections"), list):
                phases.append(phase)
                continue
            phase = dict(phase)
            sections = []
            for section in phase["sections"]:
                if not isinstance(section, dict) or not isinstance(section.get("items"), list):
                    sections.append(section)
                    continue
                section = dict(section)
                items = []
                for item in section["items"]:
                    if isinstance(item, dict):
                        unset = set()
                        item = {
                            k: interpolate(v, env, unset) if k in _ITEM_KEYS_INTERPOLATED else v
                            for k, v in item.items()
                        }
                        item_unset[index] = unset
                    items.append(item)
                    index += 1
                section["items"] = items
                sections.append(section)
            phase["sections"] = sections
            phases.append(phase)
        result[key] = phases
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
    label = f"item {item_id}" if isinstance(item_id, str) else (
        f"item #{loc[5] + 1} of section {section.get('id', loc[3])}"
    )
    return label, 6


def _problems_from(exc: ValidationError, document: dict[str, Any]) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where, used = "checklist", 0
        if len(loc) >= 6 and loc[0] == "phases" and loc[2] == "sections" and loc[4] == "items":
            where, used = _item_name(document, loc)
        field = ".".join(str(part) for part in loc[used:])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see schema/checklist.schema.json)"
        elif error["type"] == "missing":
            message = "required field is missing"
        problems.append(Problem(where, field, message))
    return problems


def _bind_item(item: Item, unset: set[str]) -> list[Problem]:
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
        unconfigured = _paths_with_unset(item.probe, unset)
        for error in exc.errors():
            loc = tuple(error["loc"])
            if any(loc[: len(path)] == path for path in unconfigured):
                continue  # fails only because a variable is unset: reported at run time
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = f"unknown parameter for probe type {probe_type.name!r}"
            problems.append(Problem(where, ".".join(["probe", *map(str, loc)]), message))
    if unset:
        item._config = None

    conditions = item.conditions if item.conditions is not None else list(probe_type.default_conditions)
    item._conditions = tuple(_parse_all(conditions, "conditions", item, probe_type.known_values(), problems))
    item._warn_conditions = tuple(
        _parse_all(item.warn_conditions, "warn_conditions", item, probe_type.known_values(), problems)
    )
    if probe_type.kind != "auto" and (item.conditions or item.warn_conditions):
        problems.append(
            Problem(where, "conditions", f"a {probe_type.name} item takes no conditions")
        )
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
    # After interpolation the reference is gone; an unset variable left an empty string.
    return [path] if value == "" or references(value) & unset else []


def _annotate_positions(checklist: Checklist) -> None:
    for phase in checklist.phases:
        for section in phase.sections:
            for item in section.items:
                item._phase = phase.id
                item._section = section.id
                item._responsible = item.owner or section.owner or phase.owner


def _cross_check(checklist: Checklist) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    containers = [p.id for p in checklist.phases] + [s.id for p in checklist.phases for s in p.sections]
    for container in {c for c in containers if containers.count(c) > 1}:
        problems.append(Problem("checklist", "id", f"phase/section id {container!r} is used twice"))
    roles = {role.id for role in checklist.signoffs}
    for role in {r.id for r in checklist.signoffs if [x.id for x in checklist.signoffs].count(r.id) > 1}:
        problems.append(Problem(f"signoff {role}", "id", "used twice"))
    items = {item.id: item for item in checklist.items()}
    for phase in checklist.phases:
        for section in phase.sections:
            for item in section.items:
                where = f"item {item.id}"
                if item.id in seen:
                    problems.append(Problem(where, "id", "used twice; item ids must be unique"))
                seen.add(item.id)
                owner = item.owner or section.owner or phase.owner
                if owner is not None and owner not in roles:
                    problems.append(
                        Problem(where, "owner", f"{owner!r} is not a sign-off role; roles: {', '.join(sorted(roles)) or 'none'}")
                    )
                for dependency in item.depends_on:
                    if dependency not in items:
                        problems.append(Problem(where, "depends_on", f"no item {dependency!r}"))
    problems.extend(_cycles(checklist))
    return problems


def _cycles(checklist: Checklist) -> list[Problem]:
    graph = {item.id: [d for d in item.depends_on] for item in checklist.items()}
    state: dict[str, int] = {}
    problems: list[Problem] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt]
                problems.append(Problem(f"item {node}", "depends_on", "cycle: " + " → ".join(cycle)))
            elif nxt in graph and state.get(nxt) is None:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in graph:
        if state.get(node) is None:
            visit(node, [node])
    return problems

