"""Elimination readiness: each condition hand-checked on built households, missing records never met, and the
row and table walks of the one declaration equal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.profiles.readiness import (
    CONDITIONS,
    KEYS,
    MET,
    NOT_MET,
    NOT_OBSERVED,
    elimination_readiness,
    readiness_frame,
    readiness_row,
)
from features.profiles.status import StatusValueError

NAN = float("nan")
# A monitoring object identified 300 days ago whose income, recorded 20 days ago, is 1.2 × the line; house,
# water, school and insurance secure; one measure running.
READY: dict[str, Any] = {
    "monitoring_status": "monitored",
    "income_after_medical_to_line": 1.2,
    "income_recorded_days_ago": 20.0,
    "days_since_identification": 300.0,
    "housing_unsafe": 0.0,
    "water_unsafe": 0.0,
    "children_out_of_school_count": 0,
    "dropouts_12m": 0,
    "uninsured_count": 0,
    "active_measures_count": 1,
    "assistance_spells_12m": 0,
}

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("all secure", {}, "income_above_line", MET),
    ("income under the line", {"income_after_medical_to_line": 0.95}, "income_above_line", NOT_MET),
    ("income exactly at the line", {"income_after_medical_to_line": 1.0}, "income_above_line", MET),
    ("no income record", {"income_after_medical_to_line": NAN, "income_recorded_days_ago": NAN},
     "income_above_line", NOT_OBSERVED),
    ("income recorded before the identification", {"income_recorded_days_ago": 310.0}, "income_above_line",
     NOT_OBSERVED),
    ("a low income recorded before the identification is not observed either",
     {"income_recorded_days_ago": 310.0, "income_after_medical_to_line": 0.5}, "income_above_line", NOT_OBSERVED),
    ("income older than the latest collection", {"income_recorded_days_ago": 450.0, "days_since_identification": 900.0},
     "income_above_line", NOT_OBSERVED),
    ("identified 300 days ago", {}, "six_months_monitored", MET),
    ("identified 182 days ago", {"days_since_identification": 182.0}, "six_months_monitored", NOT_MET),
    ("identified 183 days ago", {"days_since_identification": 183.0}, "six_months_monitored", MET),
    ("house C/D", {"housing_unsafe": 1.0}, "housing_safe", NOT_MET),
    ("house never checked", {"housing_unsafe": NAN}, "housing_safe", NOT_OBSERVED),
    ("water unsafe", {"water_unsafe": 1.0}, "water_safe", NOT_MET),
    ("water never checked", {"water_unsafe": None}, "water_safe", NOT_OBSERVED),
    ("a child out of school", {"children_out_of_school_count": 1}, "schooling_secured", NOT_MET),
    ("a dropout this year", {"dropouts_12m": 2}, "schooling_secured", NOT_MET),
    ("a member uninsured", {"uninsured_count": 1}, "medical_insured", NOT_MET),
    ("a spell started this year, none active", {"active_measures_count": 0, "assistance_spells_12m": 1},
     "measures_in_place", MET),
    ("no measure at all", {"active_measures_count": 0}, "measures_in_place", NOT_MET),
    ("an active measure, recent spells unknown", {"assistance_spells_12m": NAN}, "measures_in_place", MET),
    ("no active measure, recent spells unknown", {"active_measures_count": 0, "assistance_spells_12m": NAN},
     "measures_in_place", NOT_OBSERVED),
]  # fmt: skip


@pytest.mark.parametrize(("case", "changes", "key", "expected"), CASES, ids=[c[0] for c in CASES])
def test_hand_checked_conditions(case: str, changes: dict[str, Any], key: str, expected: str) -> None:
    row = READY | changes
    nested = readiness_row(row)
    assert nested is not None
    by_key = {item["key"]: item["state"] for item in nested["conditions"]}
    assert by_key[key] == expected
    assert readiness_frame(pd.DataFrame([row]))[key].iloc[0] == expected
    # Ready exactly when every condition is met.
    assert nested["ready"] == all(state == MET for state in by_key.values())
    assert nested["met"] == sum(state == MET for state in by_key.values())


def test_a_secure_household_is_ready_and_every_condition_is_listed_with_its_value() -> None:
    nested = readiness_row(READY)
    assert nested is not None
    assert nested["ready"] is True
    assert [item["key"] for item in nested["conditions"]] == list(KEYS)
    income = nested["conditions"][0]
    assert income["value"] == pytest.approx(1.2)
    assert income["zh"] and income["en"]


def test_a_household_with_no_records_meets_nothing() -> None:
    nested = readiness_row({"monitoring_status": "monitored"})
    assert nested is not None
    assert {item["state"] for item in nested["conditions"]} == {NOT_OBSERVED}
    assert nested["ready"] is False
    assert nested["met"] == 0
    assert all(item["value"] is None for item in nested["conditions"])


@pytest.mark.parametrize("status", ["not_monitored", "eliminated", None])
def test_only_current_monitoring_objects_get_a_readiness(status: str | None) -> None:
    assert readiness_row(READY | {"monitoring_status": status}) is None


def test_a_status_outside_the_codes_is_refused_naming_the_field() -> None:
    with pytest.raises(StatusValueError, match="monitoring_status"):
        readiness_row(READY | {"monitoring_status": "watched"})


def test_the_table_walk_keeps_row_order_and_equals_the_row_walk() -> None:
    rows: list[dict[str, Any]] = [READY | changes for _, changes, _, _ in CASES]
    rows.insert(3, READY | {"monitoring_status": "not_monitored"})
    frame = pd.DataFrame(rows)
    nested = elimination_readiness(frame)
    assert nested[3] is None
    for i, row in enumerate(rows):
        assert nested[i] == readiness_row(row)
    states = readiness_frame(frame)
    assert list(states.columns) == [*KEYS, "ready"]
    # Case order survives the table walk (row 3 is the inserted household).
    expected = [state for _, _, _, state in CASES]
    got = [states[key].iloc[i + (i >= 3)] for i, (_, _, key, _) in enumerate(CASES)]
    assert got == expected


def test_missing_never_turns_a_condition_met() -> None:
    """Blanking any one value a condition reads never moves it from not met or not observed to met."""
    rng = np.random.default_rng(5)
    columns = sorted({check.column for c in CONDITIONS for check in (*c.met, *c.observed)})
    rows: list[dict[str, Any]] = [
        READY
        | {
            "income_after_medical_to_line": rng.uniform(0.5, 1.5),
            "income_recorded_days_ago": rng.uniform(0, 500),
            "days_since_identification": rng.uniform(0, 700),
            "housing_unsafe": float(rng.integers(0, 2)),
            "active_measures_count": int(rng.integers(0, 2)),
            "assistance_spells_12m": int(rng.integers(0, 2)),
        }
        for _ in range(200)
    ]
    before = readiness_frame(pd.DataFrame(rows))
    assert before["ready"].any() and not before["ready"].all()
    for column in columns:
        after = readiness_frame(pd.DataFrame([row | {column: NAN} for row in rows]))
        for key in KEYS:
            became_met = (before[key] != MET) & (after[key] == MET)
            assert not became_met.any(), (column, key)
