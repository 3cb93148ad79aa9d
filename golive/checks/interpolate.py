"""``${VAR}`` and ``${VAR:-default}`` in checklist values.

A list entry that is exactly one reference expands to several entries when the value is
comma-separated, and to none when it is empty.

Interpolation happens on parsed YAML values (never on the YAML text), so an environment
variable can not inject structure. ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str], unset: set[str], *, keep_unset: bool = False) -> Any:
    """Substitute references in every string inside ``value``.

    A variable that is unset (or empty) and has no default is added to ``unset`` and
    replaced by the empty string, or left as written with ``keep_unset`` (so the error
    is about the variable, not about an empty value); the caller decides what it means.
    """
    if isinstance(value, str):
        return _interpolate_string(value, env, unset, keep_unset)
    if isinstance(value, dict):
        return {k: interpolate(v, env, unset, keep_unset=keep_unset) for k, v in value.items()}
    if isinstance(value, list):
        items: list[Any] = []
        for element in value:
            if isinstance(element, str) and _REFERENCE.fullmatch(element) and element != "$${":
                # A list entry that is one whole reference may name several values,
                # comma-separated: images: ["${GOLIVE_IMAGES}"] with GOLIVE_IMAGES=api,web.
                expanded = _interpolate_string(element, env, unset, keep_unset)
                if expanded == element:
                    items.append(element)
                else:
                    items.extend(part.strip() for part in expanded.split(",") if part.strip())
            else:
                items.append(interpolate(element, env, unset, keep_unset=keep_unset))
        return items
    return value


def _interpolate_string(text: str, env: Mapping[str, str], unset: set[str], keep_unset: bool) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found:
            return found
        if default is not None:
            return default
        unset.add(name)
        return match.group(0) if keep_unset else ""

    return _REFERENCE.sub(substitute, text)


def references(value: Any) -> set[str]:
    """Names of variables referenced anywhere inside ``value`` (for error locations)."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(m.group(1) for m in _REFERENCE.finditer(value) if m.group(1))
    elif isinstance(value, dict):
        for v in value.values():
            found |= references(v)
    elif isinstance(value, list):
        for v in value:
            found |= references(v)
    return found
