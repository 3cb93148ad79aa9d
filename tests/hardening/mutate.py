"""Hypothesis strategies that damage valid documents the ways real files get damaged:
truncated uploads, a field of the wrong type, a producer's new version, random bytes."""

from __future__ import annotations

import copy
import gzip
import json
import re
from typing import Any

from hypothesis import strategies as st

ODD_STRINGS = [
    "",
    " ",
    "NaN",
    "Infinity",
    "-1",
    "1e999",
    "0x10",
    "null",
    "true",
    "2025-13-45T99:99:99Z",
    "CRITICAL",
    "critical",
    "Größe ✓ 💥",
    "\u202e",
    "a" * 3000,
]
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(ODD_STRINGS),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


def mutate_tree(document: Any, data: st.DataObject, rounds: int = 3) -> Any:
    """A copy of a JSON document with a few of its values dropped, replaced, retyped,
    renamed or duplicated."""
    document = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(1, rounds), label="tree mutations")):
        paths = [p for p in _paths(document) if p]
        if not paths:
            return data.draw(JSON_VALUES, label="whole document")
        path = data.draw(st.sampled_from(paths), label="path")
        parent: Any = document
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        kind = data.draw(st.sampled_from(["drop", "replace", "wrap", "rename", "duplicate"]), label="kind")
        if kind == "drop":
            del parent[last]
        elif kind == "replace":
            parent[last] = data.draw(JSON_VALUES, label="value")
        elif kind == "wrap":  # the right value, the wrong shape
            parent[last] = data.draw(st.sampled_from([[parent[last]], {"value": parent[last]}]), label="wrap")
        elif kind == "rename" and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8), label="name")] = parent.pop(last)
        elif isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
    return document


def json_bytes(document: Any) -> bytes:
    # Python writes NaN and Infinity, as some producers do; the parsers must cope.
    return json.dumps(document, ensure_ascii=False).encode()


def damage_bytes(content: bytes, data: st.DataObject) -> bytes:
    """Byte-level damage: cut short, bytes flipped or inserted, an encoding changed."""
    for _ in range(data.draw(st.integers(0, 2), label="byte edits")):
        kind = data.draw(
            st.sampled_from(["truncate", "flip", "insert", "latin-1", "gzip", "gzip-truncated", "bom"]),
            label="byte edit",
        )
        at = data.draw(st.integers(0, max(len(content) - 1, 0)), label="at")
        if kind == "truncate":
            content = content[:at]
        elif kind == "flip" and content:
            content = content[:at] + bytes([content[at] ^ 0xFF]) + content[at + 1 :]
        elif kind == "insert":
            content = (
                content[:at] + data.draw(st.binary(min_size=1, max_size=8), label="bytes") + content[at:]
            )
        elif kind == "latin-1":
            content = content.decode("utf-8", "replace").encode("latin-1", "replace")
        elif kind == "gzip":
            content = gzip.compress(content)
        elif kind == "gzip-truncated":
            packed = gzip.compress(content)
            content = packed[: max(2, at % len(packed))]
        else:
            content = b"\xef\xbb\xbf" + content
    return content


ATTRIBUTE = re.compile(rb'(\w[\w-]*)="([^"]*)"')
XML_INSERTS = [
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b"<counter/>",
    b'<counter type="LINE" missed="x" covered="1"/>',
    b"<!-- -->",
    b"&undefined;",
    b"<![CDATA[",
]


def mutate_xml(content: bytes, data: st.DataObject) -> bytes:
    """XML damage: attribute values of the wrong kind, elements dropped, entities declared."""
    for _ in range(data.draw(st.integers(1, 3), label="xml edits")):
        kind = data.draw(st.sampled_from(["attribute", "drop line", "insert"]), label="xml edit")
        if kind == "attribute":
            found = list(ATTRIBUTE.finditer(content))
            if found:
                match = data.draw(st.sampled_from(found), label="attribute")
                value = data.draw(
                    st.sampled_from(ODD_STRINGS) | st.text(max_size=10), label="attribute value"
                )
                escaped = value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
                content = content[: match.start(2)] + escaped.encode() + content[match.end(2) :]
        elif kind == "drop line":
            lines = content.splitlines(keepends=True)
            if lines:
                del lines[data.draw(st.integers(0, len(lines) - 1), label="line")]
                content = b"".join(lines)
        else:
            at = data.draw(st.integers(0, len(content)), label="at")
            content = content[:at] + data.draw(st.sampled_from(XML_INSERTS), label="insert") + content[at:]
    return content
