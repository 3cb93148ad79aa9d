"""The checklist's JSON Schema, for editors. Committed as ``schema/checklist.schema.json``;
a test fails when the committed file differs from what the models generate."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from .model import Checklist
from .probe import all_probe_types

SCHEMA_ID = "https://golive.invalid/schema/checklist.schema.json"


def checklist_schema() -> dict[str, Any]:
    schema = Checklist.model_json_schema(ref_template="#/$defs/{model}")
    models = tuple(t.config_model for t in sorted(all_probe_types().values(), key=lambda t: t.name))
    probe_union: Any = Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007
    probe_schema = TypeAdapter(probe_union).json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    defs.update(probe_schema.pop("$defs", {}))
    defs["Item"]["properties"]["probe"] = probe_schema
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
