"""The API's profile rows: the frame is the column-by-column one, and the row values are the frame's rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

from features.profiles.build import feature_dtype
from features.profiles.catalogue import FEATURES, META_COLUMNS
from models.risk_model import ROWWISE_MAX
from service.errors import InvalidFieldError
from service.profile_rows import (
    _as_of,
    _feature_values,
    profile_values,
    profiles_for_scoring,
    profiles_from_rows,
)
from tests.service.profile_rows_cases import county_rows, frame_rows, random_rows, variants

AS_OF = date(2025, 7, 1)


def reference_frame(rows: list[dict[str, Any]], as_of: date) -> pd.DataFrame:
    """The obvious construction: a DataFrame of the meta lists, then one feature column after another."""
    region = [row["region_code"] for row in rows]
    columns: dict[str, Any] = {
        "household_id": [row["household_id"] for row in rows],
        "as_of": [_as_of(row.get("as_of"), as_of, i) for i, row in enumerate(rows)],
        "region_code": region,
        "county_code": [row.get("county_code") or code[:6] for row, code in zip(rows, region, strict=True)],
        "province_code": [row.get("province_code") or code[:2] for row, code in zip(rows, region, strict=True)],
    }
    for name in META_COLUMNS:
        columns.setdefault(name, [row.get(name) for row in rows])
    frame = pd.DataFrame(columns)
    for item in FEATURES:
        values = [row.get(item.name) for row in rows]
        if item.kind == "category":
            frame[item.name] = pd.Series(values, dtype=feature_dtype(item))  # type: ignore[call-overload]
        else:
            frame[item.name] = pd.Series(_feature_values(item.name, values))
    return frame.copy()


def test_profiles_from_rows_equals_the_column_by_column_frame(batch_profiles: pd.DataFrame) -> None:
    for rows in variants(county_rows(batch_profiles, 6)):
        pd.testing.assert_frame_equal(profiles_from_rows(rows, AS_OF), reference_frame(rows, AS_OF), check_exact=True)


def _same_cells(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [list(row) for row in got] == [list(row) for row in expected]  # the same columns, in order
    for i, (row, reference) in enumerate(zip(got, expected, strict=True)):
        for name, value in reference.items():
            cell = row[name]
            assert type(cell) is type(value), (i, name, cell, value)
            assert cell == value or (pd.isna(cell) and pd.isna(value)), (i, name, cell, value)


# Meta cells of two rows (the income year here): pandas types the column from all of them.
META_CELLS = [(2024, 2023), (2024, 2023.0), (2024, None), (2024.5, None), (None, None), (True, 1), ("2024", 1)]
META_CELLS += [(2**64, 1), (float("nan"), 1.0), (-(2**63) + 1, 2**63 - 1), (1e300, 1)]


@pytest.mark.slow
def test_profile_values_are_the_frame_rows(batch_profiles: pd.DataFrame) -> None:
    cases = [*variants(county_rows(batch_profiles, 6)), *(random_rows(batch_profiles, seed) for seed in range(40))]
    for first, second in META_CELLS:
        two = county_rows(batch_profiles, 2)
        cases.append([{**two[0], "income_year": first}, {**two[1], "income_year": second}])
    for rows in cases:
        _same_cells(profile_values(rows, AS_OF), frame_rows(profiles_from_rows(rows, AS_OF)))


@pytest.mark.parametrize(
    ("change", "field", "row"),
    [
        ({"nonsense": 1}, "nonsense", 1),
        ({"household_id": ""}, "household_id", 1),
        ({"main_industry": "rockets"}, "main_industry", 1),
        ({"income_pc_yuan": "12"}, "income_pc_yuan", 1),
        ({"income_pc_yuan": float("inf")}, "income_pc_yuan", 1),
        ({"as_of": "2024-13-01"}, "as_of", 1),
    ],
)
def test_profile_values_refuse_what_the_frame_refuses(
    batch_profiles: pd.DataFrame, change: dict[str, Any], field: str, row: int
) -> None:
    rows = county_rows(batch_profiles, 2)
    rows[1] = {**rows[1], **change}
    with pytest.raises(InvalidFieldError) as frame_error:
        profiles_from_rows(rows, AS_OF)
    with pytest.raises(InvalidFieldError) as values_error:
        profile_values(rows, AS_OF)
    assert (values_error.value.field, values_error.value.row) == (frame_error.value.field, frame_error.value.row)
    assert (field, row) == (frame_error.value.field, frame_error.value.row)
    assert str(values_error.value) == str(frame_error.value)


def test_large_requests_still_build_the_frame(batch_profiles: pd.DataFrame) -> None:
    rows = county_rows(batch_profiles, 1) * (ROWWISE_MAX + 1)
    assert isinstance(profiles_for_scoring(rows, AS_OF), pd.DataFrame)
    assert isinstance(profiles_for_scoring(rows[:ROWWISE_MAX], AS_OF), list)
