"""The result record: its flat encoding and its nested one carry the same reasons and measures."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.profiles.readiness import CONDITIONS as READINESS_CONDITIONS
from models.batch import output_columns
from models.record import (
    EXPECTED_TYPE_FIELDS,
    MEASURE_FIELDS,
    READINESS_FIELDS,
    REASON_FIELDS,
    STATUS_FIELDS,
    flat_cells,
    flat_expected_type,
    flat_readiness,
    flat_status,
    measure_columns,
    nested_expected_type,
    nested_measures,
    nested_readiness,
    nested_reasons,
    nested_status,
    optional_number,
    reason_columns,
)
from service.schemas import MeasureOut, MonitoringStatusFields, MonitoringTypeOut, ReadinessOut, ReasonOut

text = st.text(alphabet="因病学灾abc01 ", min_size=1, max_size=8)
points = st.floats(min_value=-1, max_value=1, allow_nan=False)
reason = st.fixed_dictionaries(
    {
        "key": text,
        "code": st.one_of(st.none(), text),
        "zh": text,
        "en": text,
        "points": points,
        "sentence_zh": st.one_of(st.none(), text),
        "sentence_en": st.one_of(st.none(), text),
    }
)
measure = st.fixed_dictionaries(
    {
        "measure": text,
        "zh": text,
        "en": text,
        "risks": st.lists(st.sampled_from(["01", "02", "income", "04"]), max_size=3, unique=True),
        "probability_after": points,
        "points": points,
    }
)


@given(rows=st.lists(st.tuples(st.lists(reason, max_size=3), st.lists(measure, max_size=6)), max_size=5))
def test_nested_to_flat_and_back_is_the_identity(rows: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> None:
    flat = [flat_cells(reasons, measures, 3, 6) for reasons, measures in rows]
    columns = {name: [row[name] for row in flat] for name in [*reason_columns(3), *measure_columns(6)]}
    assert nested_reasons(columns, len(rows)) == [reasons for reasons, _ in rows]
    assert nested_measures(columns, len(rows)) == [measures for _, measures in rows]


def test_the_api_objects_and_the_batch_table_use_the_record_fields() -> None:
    assert tuple(ReasonOut.model_fields) == REASON_FIELDS
    assert tuple(MeasureOut.model_fields) == MEASURE_FIELDS
    columns = output_columns()
    assert [c for c in columns if c.startswith("reason1_")] == [f"reason1_{f}" for f in REASON_FIELDS]
    assert [c for c in columns if c.startswith("measure1_")] == [
        "measure1_code",
        *(f"measure1_{f}" for f in MEASURE_FIELDS[1:]),
    ]


status = st.fixed_dictionaries(
    {
        "monitoring_status": st.sampled_from(["not_monitored", "monitored", "eliminated", "unknown"]),
        "monitoring_type": st.one_of(st.none(), st.sampled_from(["unstable", "marginal", "sudden"])),
        "monitoring_risk_types": st.lists(st.sampled_from(["01", "0203", "03", "07", "99"]), max_size=5),
        "identified_date": st.one_of(st.none(), st.dates()),
        "elimination_date": st.one_of(st.none(), st.dates()),
        "elimination_way": st.one_of(st.none(), st.sampled_from(["assisted", "natural"])),
    }
)


@given(status)
def test_status_fields_round_trip_between_the_two_encodings(nested: dict[str, Any]) -> None:
    flat = flat_status(nested)
    assert list(flat) == list(STATUS_FIELDS)
    assert flat["monitoring_risk_types"] == (",".join(nested["monitoring_risk_types"]) or None)
    assert nested_status(flat) == nested
    assert MonitoringStatusFields(**nested).model_dump() == nested  # the API item carries the same fields


def test_a_record_without_status_says_unknown() -> None:
    assert nested_status({})["monitoring_status"] == "unknown"
    assert flat_status({})["monitoring_status"] == "unknown"


@pytest.mark.parametrize(
    ("code", "flat"),
    [
        ("unstable", ("unstable", "脱贫不稳定户", "unstable poverty-alleviated household")),
        ("marginal", ("marginal", "边缘易致贫户", "marginal household prone to poverty")),
        ("sudden", ("sudden", "突发严重困难户", "household in sudden severe difficulty")),
        (None, (None, None, None)),
    ],
)
def test_the_expected_type_in_both_encodings(code: str | None, flat: tuple[str | None, ...]) -> None:
    nested = nested_expected_type(code)
    assert flat_expected_type(nested) == dict(zip(EXPECTED_TYPE_FIELDS, flat, strict=True))
    assert nested == (None if code is None else dict(zip(("code", "zh", "en"), flat, strict=True)))
    out = MonitoringTypeOut.of(code)
    assert (out.model_dump() if out is not None else None) == nested  # the API object carries the same fields


def test_an_expected_type_outside_the_code_list_names_the_field() -> None:
    with pytest.raises(ValueError, match="expected_monitoring_type"):
        nested_expected_type("poor")


_STATES = st.sampled_from(["met", "not_met", "not_observed"])


@given(states=st.lists(_STATES, min_size=len(READINESS_CONDITIONS), max_size=len(READINESS_CONDITIONS)),
       values=st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=len(READINESS_CONDITIONS),
                       max_size=len(READINESS_CONDITIONS)))  # fmt: skip
def test_readiness_round_trips_between_the_two_encodings(states: list[str], values: list[float | None]) -> None:
    conditions = [
        {"key": c.key, "zh": c.zh, "en": c.en, "state": state, "value": value}
        for c, state, value in zip(READINESS_CONDITIONS, states, values, strict=True)
    ]
    met = states.count("met")
    nested = {"ready": met == len(states), "met": met, "conditions": conditions}
    flat = flat_readiness(nested)
    assert list(flat) == list(READINESS_FIELDS)
    assert nested_readiness(flat) == nested
    assert ReadinessOut.model_validate(nested).model_dump() == nested


def test_a_household_without_readiness_has_empty_flat_cells_and_a_bad_state_names_the_field() -> None:
    assert set(flat_readiness(None).values()) == {None}
    assert nested_readiness(flat_readiness(None)) is None
    cells = flat_readiness(
        {"ready": False, "met": 0, "conditions": [
            {"key": c.key, "zh": c.zh, "en": c.en, "state": "not_observed", "value": None}
            for c in READINESS_CONDITIONS]}
    )  # fmt: skip
    cells[f"readiness_{READINESS_CONDITIONS[0].key}"] = "maybe"
    with pytest.raises(ValueError, match=f"readiness_{READINESS_CONDITIONS[0].key} must be one of"):
        nested_readiness(cells)


def test_a_missing_number_cell_is_none_in_the_nested_form() -> None:
    """`identification_probability` and readiness values: empty flat cells (None, NaN) are null nested."""
    assert optional_number(None) is None and optional_number(float("nan")) is None
    assert optional_number(0.25) == 0.25 and optional_number(0) == 0.0 and isinstance(optional_number(1), float)
