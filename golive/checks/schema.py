"""The checklist's JSON Schema, for editors. Committed as ``schema/checklist.schema.json``;
a test fails when the committed file differs from what the models generate."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from .model import Checklist
from .probe import ProbeConfig, ProbeType, all_probe_types

SCHEMA_ID = "https://golive.invalid/schema/checklist.schema.json"


def probe_configs(types: Iterable[ProbeType]) -> TypeAdapter[ProbeConfig]:
    """Every probe type's config model as one union, told apart by ``type``: what the
    schema shows editors (the loader validates each item with its own type's model)."""
    return _union_of(tuple(t.config_model for t in sorted(types, key=lambda t: t.name)))


@lru_cache(maxsize=16)
def _union_of(models: tuple[type[ProbeConfig], ...]) -> TypeAdapter[ProbeConfig]:
    if len(models) == 1:  # a union of one is that model; pydantic wants no discriminator then
        return TypeAdapter(models[0])
    probe_union: Any = Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007
    return TypeAdapter(probe_union)


def checklist_schema() -> dict[str, Any]:
    schema = Checklist.model_json_schema(ref_template="#/$defs/{model}")
    probe_schema = probe_configs(all_probe_types().values()).json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    defs.update(probe_schema.pop("$defs", {}))
    defs["Item"]["properties"]["probe"] = probe_schema
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
