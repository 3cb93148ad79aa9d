"""JSON documents in the database, each with a ``version`` so a later golive can read
what an earlier one wrote (and an older one refuses, clearly, what a newer one wrote).

Observed values are what probes saw: mostly JSON already, but a probe may observe a
non-finite float (Prometheus answers ``NaN``) or a datetime, which JSON cannot carry and
PostgreSQL's ``json`` rejects. Those are tagged (``{"$float": "nan"}``,
``{"$datetime": "…"}``) and restored on reading, so a result is never lost for the shape
of a value. Tuples come back as lists; anything else unknown is stored as its ``str``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from golive.checks.conditions import ConditionOutcome
from golive.checks.phrases import Phrase
from golive.checks.probe import Evidence
from golive.checks.status import Status

from .entries import ChartPoint
from .errors import StorageError
from .times import utc

VERSION = 1
_FLOAT = "$float"
_DATETIME = "$datetime"


def _document(body: dict[str, Any]) -> dict[str, Any]:
    return {"version": VERSION, **body}


def _body(document: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    version = document.get("version")
    if version != VERSION:
        raise StorageError(
            f"stored {what} has format version {version!r}; this golive reads version "
            f"{VERSION}: upgrade golive"
        )
    return document


def to_json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {_FLOAT: str(value)}
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return str(value)


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _FLOAT in value:
            return float(value[_FLOAT])
        if len(value) == 1 and _DATETIME in value:
            return datetime.fromisoformat(value[_DATETIME])
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


def encode_observed(observed: Mapping[str, Any]) -> dict[str, Any]:
    return _document({"values": to_json(observed)})


def decode_observed(document: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = from_json(_body(document, "observed values")["values"])
    return values


def encode_phrase(phrase: Phrase | None) -> dict[str, Any] | None:
    return None if phrase is None else _document({"phrase": _phrase_json(phrase)})


def decode_phrase(document: Mapping[str, Any] | None) -> Phrase | None:
    if document is None:
        return None
    return _phrase(_body(document, "phrase")["phrase"])


def _phrase_json(phrase: Phrase) -> dict[str, Any]:
    values = [
        [name, {"phrase": _phrase_json(value)} if isinstance(value, Phrase) else value]
        for name, value in phrase.values
    ]
    return {"key": phrase.key, "values": values}


def _phrase(document: Mapping[str, Any]) -> Phrase:
    values = tuple(
        (str(name), _phrase(value["phrase"]) if isinstance(value, dict) else value)
        for name, value in document["values"]
    )
    return Phrase(str(document["key"]), values)


def encode_evidence(evidence: Evidence | None) -> dict[str, Any] | None:
    if evidence is None:
        return None
    return _document(
        {
            "source": evidence.source,
            "observed_at": utc(evidence.observed_at).isoformat(),
            "link": evidence.link,
        }
    )


def decode_evidence(document: Mapping[str, Any] | None) -> Evidence | None:
    if document is None:
        return None
    body = _body(document, "evidence")
    return Evidence(
        source=body["source"],
        observed_at=datetime.fromisoformat(body["observed_at"]),
        link=body["link"],
    )


def encode_conditions(outcomes: tuple[ConditionOutcome, ...]) -> dict[str, Any]:
    return _document(
        {
            "outcomes": [
                {"condition": o.condition, "passed": o.passed, "message": o.message}
                for o in outcomes
            ]
        }
    )


def decode_conditions(document: Mapping[str, Any]) -> tuple[ConditionOutcome, ...]:
    return tuple(
        ConditionOutcome(o["condition"], o["passed"], o["message"])
        for o in _body(document, "condition outcomes")["outcomes"]
    )


def encode_approved(approved: Mapping[str, Status]) -> dict[str, Any]:
    return _document({"items": {item: str(status) for item, status in approved.items()}})


def decode_approved(document: Mapping[str, Any]) -> dict[str, Status]:
    items = _body(document, "sign-off approval")["items"]
    return {item: Status(status) for item, status in items.items()}


def encode_details(details: Mapping[str, Any]) -> dict[str, Any]:
    return _document({"data": to_json(details)})


def decode_details(document: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = from_json(_body(document, "details")["data"])
    return data


def numeric_values(observed: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers among observed values: what a chart can draw."""
    return {
        name: float(value)
        for name, value in observed.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def encode_chart_points(points: Mapping[str, ChartPoint]) -> dict[str, Any]:
    return _document(
        {
            "items": {
                item_id: {
                    "status": str(point.status),
                    "duration_ms": point.duration_ms,
                    "values": dict(point.values),
                    "source": point.source,
                }
                for item_id, point in points.items()
            }
        }
    )


def decode_chart_points(document: Mapping[str, Any]) -> dict[str, ChartPoint]:
    return {
        item_id: ChartPoint(
            status=Status(point["status"]),
            duration_ms=float(point["duration_ms"]),
            values=point["values"],
            source=point["source"],
        )
        for item_id, point in _body(document, "chart points")["items"].items()
    }
