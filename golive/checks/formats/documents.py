"""Helpers shared by the report parsers (k6, vulnerability scanners, coverage).

The parsers are pure functions over bytes. Whatever is wrong with a document — not
UTF-8, not JSON, truncated, a field of the wrong type — becomes a :class:`ProbeError`
whose message names the document and the field, never a traceback.
"""

from __future__ import annotations

import json
import math
import zlib
from datetime import UTC, datetime
from typing import Any

from ..errors import PermanentProbeError

GZIP_MAGIC = b"\x1f\x8b"


def decode_text(content: bytes, source: str) -> str:
    try:
        # utf-8-sig: reports written on Windows may start with a byte order mark.
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PermanentProbeError(
            f"{source}: not a text report (invalid UTF-8 at byte {exc.start})"
        ) from None


def load_json(content: bytes, source: str, what: str) -> Any:
    """Parse a whole JSON document, naming the place where it breaks."""
    return parse_json_text(decode_text(content, source), source, what)


def parse_json_text(text: str, source: str, what: str) -> Any:
    if not text.strip():
        raise PermanentProbeError(f"{source}: the {what} is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        ends_early = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        hint = "; the file looks truncated" if ends_early else ""
        raise PermanentProbeError(
            f"{source}: the {what} is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}{hint})"
        ) from None
    except RecursionError:
        raise PermanentProbeError(f"{source}: the {what} is nested too deeply to be a report") from None


def gunzip(content: bytes, limit: int, source: str) -> bytes:
    """Decompress a gzip document, refusing one that expands beyond ``limit`` bytes."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(content, limit + 1)
    except zlib.error as exc:
        raise PermanentProbeError(f"{source}: damaged gzip data ({exc})") from None
    if len(data) > limit:
        raise PermanentProbeError(f"{source}: decompresses to more than the {limit} bytes allowed")
    if not decompressor.eof:
        raise PermanentProbeError(f"{source}: the gzip data is truncated")
    return data


def mapping(value: Any, where: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PermanentProbeError(f"{source}: {where} should be an object, found {_kind(value)}")
    return value


def sequence(value: Any, where: str, source: str) -> list[Any]:
    if not isinstance(value, list):
        raise PermanentProbeError(f"{source}: {where} should be a list, found {_kind(value)}")
    return value


def optional_mapping(value: Any, where: str, source: str) -> dict[str, Any]:
    """An object that a producer may omit or write as null (Go ``omitempty``)."""
    return {} if value is None else mapping(value, where, source)


def optional_sequence(value: Any, where: str, source: str) -> list[Any]:
    return [] if value is None else sequence(value, where, source)


def number(value: Any) -> float | None:
    """A finite number, or None: booleans, strings, NaN and infinities are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        as_float = float(value)
    except OverflowError:  # a JSON integer beyond any float: not a measurement
        return None
    return as_float if math.isfinite(as_float) else None


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 / RFC 3339 time (Go writes nanoseconds and ``Z``), timezone-aware.

    A time without offset is taken as the local time of this machine: coverage.py writes
    ``datetime.now().isoformat()``, the local wall clock of the machine that ran it.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.astimezone()


def epoch_time(value: Any) -> datetime | None:
    """Epoch seconds or milliseconds (a string or a number) as an aware datetime.

    Cobertura and JaCoCo write milliseconds; a few Cobertura writers use seconds. A
    value above 1e11 cannot be seconds (that is the year 5138), so it is milliseconds.
    """
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    seconds = number(value)
    if seconds is None or seconds <= 0:
        return None
    if seconds > 1e11:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
