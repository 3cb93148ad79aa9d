"""``openapi``: is the published API description the one of this release?

Reads an OpenAPI 3.x or Swagger 2.0 document, JSON or YAML, from a URL or a file, and
observes ``info.version``; by default it must equal the release version.

Versions are text, never numbers: YAML would read ``version: 1.10`` as the float 1.1
and ``version: 2024-05-01`` as a date, so the YAML loader here keeps every plain scalar
that looks like a number or a date as the string written (JSON numbers likewise).

Anything that is not an OpenAPI document (garbage, an HTML page such as Swagger UI, a
JSON without ``openapi``/``swagger`` or ``info.version``) is an ERROR saying what was
found: pointing the probe at the wrong URL must not pass or fail silently.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import yaml
from pydantic import Field

from ..clients.documents import SourceAuth, read_document
from ..errors import PermanentProbeError
from ..formats.documents import decode_text
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register

try:  # libyaml parses large specs many times faster; the pure-Python loader is the fallback.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_TEXT_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"})


class _TextScalarLoader(_BaseLoader):
    """A safe loader that leaves numbers and dates as the text written."""


_TextScalarLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in _TEXT_TAGS]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


class OpenApiConfig(ProbeConfig):
    type: Literal["openapi"] = "openapi"
    #: URL or file path (relative paths resolve against the checklist's folder).
    document: str = Field(min_length=1)
    auth: SourceAuth | None = None


async def _gather(config: OpenApiConfig, context: ProbeContext) -> Observation:
    fetched = await read_document(config.document, context, config.auth)
    # A multi-megabyte YAML spec takes a while to parse: not on the event loop.
    spec = await asyncio.to_thread(_parse, fetched.content, fetched.source)
    values = _observe(spec, fetched.source)
    message = (
        f"{'Swagger' if 'swagger' in spec else 'OpenAPI'} {values['OPENAPI']} document "
        f"{values['TITLE']!r}: info.version {values['VERSION']}, {values['PATHS']} paths"
    )
    link = fetched.source if fetched.source.startswith(("http://", "https://")) else None
    return Observation(
        values=values, evidence=Evidence(fetched.source, fetched.produced_at, link), message=message
    )


def _parse(content: bytes, source: str) -> Any:
    text = decode_text(content, source).strip()
    if not text:
        raise PermanentProbeError(f"{source}: the document is empty")
    if text.startswith("<"):
        raise PermanentProbeError(
            f"{source}: this is HTML or XML, not an OpenAPI document (a Swagger UI page?); "
            "point document at the JSON or YAML itself, e.g. …/openapi.json"
        )
    try:
        if text.startswith("{"):
            try:
                # Numbers as written, like the YAML loader: an info.version of 1.10 stays 1.10.
                return json.loads(text, parse_float=str, parse_int=str)
            except ValueError as exc:
                json_error = exc
            try:  # JSON-looking YAML (flow style, comments) is still YAML
                return yaml.load(text, Loader=_TextScalarLoader)  # noqa: S506  (a safe loader)
            except yaml.YAMLError:
                raise PermanentProbeError(f"{source}: not valid JSON ({json_error})") from None
        return yaml.load(text, Loader=_TextScalarLoader)  # noqa: S506  (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise PermanentProbeError(f"{source}: neither JSON nor valid YAML ({problem}{where})") from None
    except RecursionError:
        raise PermanentProbeError(f"{source}: nested too deeply to be an OpenAPI document") from None


def _observe(spec: Any, source: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise PermanentProbeError(
            f"{source}: not an OpenAPI document: expected a mapping with openapi and info, "
            f"found {_kind(spec)}"
        )
    spec_version = spec.get("openapi", spec.get("swagger"))
    if not isinstance(spec_version, str) or not spec_version:
        raise PermanentProbeError(
            f"{source}: not an OpenAPI document: it has no 'openapi' or 'swagger' version field"
        )
    info = spec.get("info")
    version = info.get("version") if isinstance(info, dict) else None
    if isinstance(version, bool | dict | list) or version is None or not str(version).strip():
        raise PermanentProbeError(
            f"{source}: the OpenAPI document has no info.version (found {_kind(version)})"
        )
    assert isinstance(info, dict)
    paths = spec.get("paths")
    title = info.get("title")
    return {
        "VERSION": str(version).strip(),
        "TITLE": str(title) if isinstance(title, str | int | float) else None,
        "OPENAPI": spec_version,
        # OpenAPI 3.1 allows a document of webhooks or components only: no paths is 0.
        "PATHS": len(paths) if isinstance(paths, dict) else 0,
    }


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"the text {value[:40]!r}" if value.strip() else "an empty text"
    return {dict: "a mapping", list: "a list", bool: "a boolean"}.get(type(value), type(value).__name__)


OPENAPI = register(
    ProbeType(
        name="openapi",
        summary="An OpenAPI/Swagger document (JSON or YAML, URL or file): info.version, title, paths.",
        config_model=OpenApiConfig,
        gather=_gather,
        values=(
            Value("VERSION", "info.version, as written"),
            Value("TITLE", "info.title"),
            Value("OPENAPI", "the spec version: the openapi field, or swagger for 2.0"),
            Value("PATHS", "how many paths the document describes"),
        ),
        default_conditions=("[VERSION] == [RELEASE_VERSION]",),
        example={"type": "openapi", "document": "https://erp.example.com/api/openapi.json"},
    )
)
