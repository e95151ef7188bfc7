"""The result of scoring one household, defined once, with its two encodings.

*Nested* — what the API answers and the audit table stores: `reasons` and `measures` are lists of objects with
the fields below. *Flat* — what Parquet and CSV carry (`relapse score`, batch-job results, exports): one column
per rank and field, `reason1_key`, `reason1_points`, …, `measure1_code`, …, empty past a household's last reason
or measure. A measure's code is `measure` in the nested form and `measure{k}_code` in the flat one, and its
risk keys are a list nested and comma-joined flat; everything else has the same name in both. The conversions
below are the only place either encoding is spelled out.

Every record also carries the household's monitoring status as of `as_of` (`STATUS_FIELDS`, from
`features.profiles.status`): the same names in both encodings; `monitoring_risk_types` is a list nested and
comma-joined flat, and a record without a status says `unknown`.

It also carries the monitoring type the household would enter as (`features.profiles.monitoring_type`), or the
recorded one of a current monitoring object: nested, `expected_monitoring_type` is an object {code, zh, en} or null;
flat, it is three columns (`EXPECTED_TYPE_FIELDS`): the code and its two names.

Every record carries `identification_probability` beside `probability`: the need model's second output (its
identification companion, `models.risk_model`), a number in both encodings, null (empty flat) without one.

A current monitoring object's record also carries its elimination readiness (`features.profiles.readiness`):
nested, `elimination_readiness` is {ready, met, conditions: [{key, zh, en, state, value}]} or null for every other
household; flat, it is `readiness_ready` (1/0), `readiness_met` (a count) and, per condition, `readiness_<key>`
(the state code) and `readiness_<key>_value` (`READINESS_FIELDS`), all empty for other households.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from features.contract.codes import MONITORING_TYPES
from features.profiles.monitoring_type import FIELD as EXPECTED_TYPE
from features.profiles.readiness import CONDITIONS as READINESS_CONDITIONS
from features.profiles.readiness import STATES as READINESS_STATES
from features.profiles.status import STATUS_COLUMNS, status_of

STATUS_FIELDS: Final = tuple(STATUS_COLUMNS)
EXPECTED_TYPE_FIELDS: Final = (EXPECTED_TYPE, f"{EXPECTED_TYPE}_zh", f"{EXPECTED_TYPE}_en")
READINESS_NUMBERS: Final = ("readiness_ready", "readiness_met") + tuple(
    f"readiness_{c.key}_value" for c in READINESS_CONDITIONS
)
READINESS_FIELDS: Final = (
    "readiness_ready",
    "readiness_met",
    *(name for c in READINESS_CONDITIONS for name in (f"readiness_{c.key}", f"readiness_{c.key}_value")),
)
REASON_FIELDS: Final = ("key", "code", "zh", "en", "points", "sentence_zh", "sentence_en")
MEASURE_FIELDS: Final = ("measure", "zh", "en", "risks", "probability_after", "points")
# A field's flat column suffix where it differs from its nested name.
_FLAT_NAMES: Final = {"measure": "code"}
_NUMBERS: Final = frozenset({"points", "probability_after"})


def flat_measure_field(field: str) -> str:
    return _FLAT_NAMES.get(field, field)


def reason_columns(top: int) -> list[str]:
    return [f"reason{k}_{field}" for k in range(1, top + 1) for field in REASON_FIELDS]


def measure_columns(slots: int) -> list[str]:
    return [f"measure{k}_{flat_measure_field(field)}" for k in range(1, slots + 1) for field in MEASURE_FIELDS]


def nested_reasons(columns: Mapping[str, Sequence[Any]], rows: int) -> list[list[dict[str, Any]]]:
    """Each row's reasons as objects, from flat columns (plain Python lists; a missing marker ends the list)."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(rows)]
    for k in _ranks(columns, "reason", "key"):
        fields = [columns[f"reason{k}_{field}"] for field in REASON_FIELDS]
        for i, cells in enumerate(zip(*fields, strict=True)):
            if isinstance(cells[0], str):
                out[i].append({field: _nested(field, cell) for field, cell in zip(REASON_FIELDS, cells, strict=True)})
    return out


def nested_measures(columns: Mapping[str, Sequence[Any]], rows: int) -> list[list[dict[str, Any]]]:
    """Each row's measures as objects, from flat columns."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(rows)]
    for k in _ranks(columns, "measure", "code"):
        fields = [columns[f"measure{k}_{flat_measure_field(field)}"] for field in MEASURE_FIELDS]
        for i, cells in enumerate(zip(*fields, strict=True)):
            if isinstance(cells[0], str):
                out[i].append({field: _nested(field, cell) for field, cell in zip(MEASURE_FIELDS, cells, strict=True)})
    return out


def flat_cells(
    reasons: Sequence[Mapping[str, Any]], measures: Sequence[Mapping[str, Any]], top: int, slots: int
) -> dict[str, Any]:
    """One row's flat cells from its nested reasons and measures (None past the last of each)."""
    row: dict[str, Any] = {}
    for k in range(1, top + 1):
        reason = reasons[k - 1] if len(reasons) >= k else {}
        for field in REASON_FIELDS:
            row[f"reason{k}_{field}"] = reason.get(field)
    for k in range(1, slots + 1):
        measure = measures[k - 1] if len(measures) >= k else {}
        for field in MEASURE_FIELDS:
            value = measure.get(field)
            row[f"measure{k}_{flat_measure_field(field)}"] = ",".join(value) if field == "risks" and value else value
    return row


def nested_status(cells: Mapping[str, Any]) -> dict[str, Any]:
    """A record's status fields in the nested form, from flat cells or a profile row (missing: `unknown`)."""
    status = status_of(cells)
    return {
        "monitoring_status": status.status,
        "monitoring_type": status.monitoring_type,
        "monitoring_risk_types": list(status.risk_types),
        "identified_date": status.identified_date,
        "elimination_date": status.elimination_date,
        "elimination_way": status.elimination_way,
    }


def flat_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """A record's status fields in the flat form, from the nested ones (risk types comma-joined, None when none)."""
    row = {field: status.get(field) for field in STATUS_FIELDS}
    row["monitoring_status"] = row["monitoring_status"] or "unknown"
    row["monitoring_risk_types"] = ",".join(status.get("monitoring_risk_types") or ()) or None
    return row


def nested_expected_type(code: str | None) -> dict[str, str] | None:
    """The nested `expected_monitoring_type` of a type code: {code, zh, en}, or None for no type.

    Raises `ValueError` naming the field for a code outside the monitoring types."""
    if code is None:
        return None
    if code not in MONITORING_TYPES:
        raise ValueError(f"{EXPECTED_TYPE} must be one of {', '.join(MONITORING_TYPES)}")
    zh, en = MONITORING_TYPES[code]
    return {"code": code, "zh": zh, "en": en}


def flat_expected_type(nested: Mapping[str, Any] | None) -> dict[str, str | None]:
    """The flat cells (`EXPECTED_TYPE_FIELDS`) of a nested `expected_monitoring_type` (None: all three empty)."""
    if nested is None:
        return dict.fromkeys(EXPECTED_TYPE_FIELDS)
    return dict(zip(EXPECTED_TYPE_FIELDS, (nested["code"], nested["zh"], nested["en"]), strict=True))


def flat_readiness(nested: Mapping[str, Any] | None) -> dict[str, Any]:
    """The flat cells (`READINESS_FIELDS`) of a nested `elimination_readiness` (None: all empty)."""
    if nested is None:
        return dict.fromkeys(READINESS_FIELDS)
    row: dict[str, Any] = {"readiness_ready": 1.0 if nested["ready"] else 0.0, "readiness_met": float(nested["met"])}
    for item in nested["conditions"]:
        row[f"readiness_{item['key']}"] = item["state"]
        row[f"readiness_{item['key']}_value"] = item["value"]
    return row


def nested_readiness(cells: Mapping[str, Any]) -> dict[str, Any] | None:
    """The nested `elimination_readiness` from flat cells; None when they carry none.

    Raises `ValueError` naming the field for a state outside the readiness states."""
    ready = cells.get("readiness_ready")
    if ready is None or (isinstance(ready, float) and math.isnan(ready)):
        return None
    conditions = []
    for condition in READINESS_CONDITIONS:
        name = f"readiness_{condition.key}"
        state = cells.get(name)
        if state not in READINESS_STATES:
            raise ValueError(f"{name} must be one of {', '.join(READINESS_STATES)}")
        number = optional_number(cells.get(f"{name}_value"))
        conditions.append(
            {"key": condition.key, "zh": condition.zh, "en": condition.en, "state": state, "value": number}
        )
    return {"ready": bool(ready), "met": int(cells["readiness_met"]), "conditions": conditions}


def optional_number(cell: Any) -> float | None:
    """A flat number cell in the nested form: a missing marker (None, NaN) is None."""
    return None if cell is None or (isinstance(cell, float) and math.isnan(cell)) else float(cell)


def _ranks(columns: Mapping[str, Any], prefix: str, field: str) -> list[int]:
    suffix = f"_{field}"
    return sorted(
        int(name[len(prefix) : -len(suffix)])
        for name in columns
        if name.startswith(prefix) and name.endswith(suffix) and name[len(prefix) : -len(suffix)].isdigit()
    )


def _nested(field: str, cell: Any) -> Any:
    if field in _NUMBERS:
        return float(cell)
    if field == "risks":
        return [risk for risk in (cell if isinstance(cell, str) else "").split(",") if risk]
    return cell if isinstance(cell, str) else None  # a missing marker (None, NaN, pd.NA) is None
