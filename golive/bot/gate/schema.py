"""The JSON Schema of the state document: ``golive run/status --format json`` and the
verdict API answer with it. Published as ``schema/state.schema.json``; regenerate with
``python -m golive.bot.gate.schema > schema/state.schema.json``.

Additional properties are allowed throughout: the document changes only by adding
fields (DESIGN.md), and a reader validating against this schema keeps working.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..render.json import FORMAT_VERSION

SCHEMA_ID = "https://golive.example/schema/state.schema.json"

_TIME = {"type": ["string", "null"], "format": "date-time"}
_STRING_OR_NULL = {"type": ["string", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties) if required is None else required,
    }


def state_schema() -> dict[str, Any]:
    blocker = _object(
        {
            "subject": {"type": "string", "description": "An item id, or signoff:<role>."},
            "title": {"type": "string"},
            "status": {"type": "string"},
            "reason": {"type": "string"},
        }
    )
    evidence = {
        "oneOf": [
            {"type": "null"},
            _object({"source": {"type": "string"}, "observed_at": _TIME, "link": _STRING_OR_NULL}),
        ]
    }
    common = {
        "id": {"type": "string"},
        "phase": {"type": "string"},
        "section": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "string", "description": "PASS, FAIL, ERROR, WARN, SKIP, NOT_RUN, PENDING, ..."},
        "message": {"type": "string"},
        "observed": {"type": "object"},
        "duration_ms": {"type": ["number", "null"]},
        "run_id": _INT_OR_NULL,
    }
    item = _object(
        {
            **common,
            "kind": {"enum": ["auto", "manual"]},
            "probe": {"type": "string"},
            "blocking": {"type": "boolean"},
            "owner": _STRING_OR_NULL,
            "checked_at": _TIME,
            "evidence": evidence,
            "raw_status": {"type": "string"},
        },
        required=sorted([*common, "kind", "probe", "blocking", "owner", "checked_at", "evidence"]),
    )
    signoff = _object(
        {
            **common,
            "kind": {"const": "signoff"},
            "holds": {"type": "boolean"},
            "signed_by": _STRING_OR_NULL,
            "signed_at": _TIME,
            "fingerprint": _STRING_OR_NULL,
        },
        required=sorted([*common, "kind", "holds", "signed_by", "signed_at", "fingerprint"]),
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "golive state document",
        "description": (
            "What `golive run --format json`, `golive status --format json` and the verdict "
            "API (GET /api/v1/verdict, /api/v1/runs/{id}) answer."
        ),
        **_object(
            {
                "format_version": {"const": FORMAT_VERSION},
                "run_id": {**_INT_OR_NULL, "description": "The run the document rests on."},
                "release": _object({"name": {"type": "string"}, "version": {"type": "string"}}),
                "checklist": _object({"digest": {"type": "string"}}),
                "started_at": _TIME,
                "finished_at": _TIME,
                "evaluated_at": _TIME,
                "phase": {"type": "string", "description": "Set when the document is narrowed to one phase."},
                "verdict": _object(
                    {
                        "decision": {"enum": ["GO", "NO-GO"]},
                        "go": {"type": "boolean"},
                        "blockers": {"type": "array", "items": blocker},
                    }
                ),
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "items": {"type": "array", "items": {"anyOf": [item, signoff]}},
                "signoffs": {"type": "array", "items": signoff},
                "notes": {
                    "type": "array",
                    "items": _object(
                        {"author": {"type": "string"}, "text": {"type": "string"}, "created_at": _TIME}
                    ),
                },
                "results": _object(
                    {
                        "this_run": {"type": "array", "items": {"type": "string"}},
                        "earlier_runs": {"type": "object", "additionalProperties": {"type": "integer"}},
                    }
                ),
            },
            required=sorted(
                [
                    "format_version",
                    "run_id",
                    "release",
                    "checklist",
                    "started_at",
                    "finished_at",
                    "evaluated_at",
                    "verdict",
                    "counts",
                    "items",
                    "signoffs",
                    "notes",
                ]
            ),
        ),
    }


def rendered() -> str:
    return json.dumps(state_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(rendered())
