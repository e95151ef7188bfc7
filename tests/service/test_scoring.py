"""The scoring path's shortcuts give bitwise what the plain pandas path gives (frame, matrix, explanations)."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.profiles.build import feature_dtype
from features.profiles.catalogue import FEATURES, META_COLUMNS
from models.explain import explain_households
from service import scoring
from service.db import Database
from service.errors import InvalidFieldError
from service.keys import Caller
from service.model_holder import ModelHolder
from service.scope import Scope
from service.scoring import (
    _ROWWISE_MAX,
    _as_of,
    _feature_values,
    model_matrix,
    profile_values,
    profiles_for_scoring,
    profiles_from_rows,
    values_matrix,
)
from service.settings import ServiceSettings
from service.store import Decisions
from service.tables import Role
from tests.service.api_support import bearer
from tests.service.test_api_scores import _household_in, profile_row

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


def _rows(batch_profiles: pd.DataFrame, count: int) -> list[dict[str, Any]]:
    return [profile_row(batch_profiles, _household_in(batch_profiles, "990101", k)) for k in range(count)]


def _variants(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    gaps = [dict(row) for row in rows[:4]]
    gaps[1] = {k: v for k, v in gaps[1].items() if k not in ("members_count", "income_year", "monitoring_line_yuan")}
    gaps[2]["main_industry"] = None
    gaps[3]["as_of"] = "2024-06-01"
    bare = [{"household_id": "h1", "region_code": "990101001001"}]
    return [rows[:1], rows[1:2], rows, gaps, bare]


def test_profiles_from_rows_equals_the_column_by_column_frame(batch_profiles: pd.DataFrame) -> None:
    for rows in _variants(_rows(batch_profiles, 6)):
        pd.testing.assert_frame_equal(profiles_from_rows(rows, AS_OF), reference_frame(rows, AS_OF), check_exact=True)


def test_model_matrix_is_bitwise_prepare(holder: ModelHolder, batch_profiles: pd.DataFrame) -> None:
    assert holder.current is not None
    model = holder.current.model
    frames = [profiles_from_rows(rows, AS_OF) for rows in _variants(_rows(batch_profiles, 6))]
    frames.append(batch_profiles.head(5))
    odd = batch_profiles.head(3).copy()  # dtypes the fast conversion leaves to prepare
    odd["members_count"] = odd["members_count"].astype("Int64")
    odd["village_type"] = odd["village_type"].astype(object)
    odd["income_pc_yuan"] = odd["income_pc_yuan"].astype(str)
    frames.append(odd)
    for frame in frames:
        rows = [frame.iloc[i] for i in range(len(frame))]
        np.testing.assert_array_equal(model_matrix(model, frame, rows), model.prepare(frame))


def test_the_api_answers_what_explain_households_says(
    client: TestClient, db: Database, holder: ModelHolder, batch_profiles: pd.DataFrame
) -> None:
    assert holder.current is not None
    rows = _rows(batch_profiles, 5)
    response = client.post("/v1/profiles:score", json={"profiles": rows}, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 200, response.text
    frame = profiles_from_rows(rows, date.today())
    expected = explain_households(holder.current.model, frame, explainer=holder.current.explainer)
    for item, explanation in zip(response.json()["items"], expected, strict=True):
        assert item["probability"] == explanation.probability
        assert item["reasons"] == [
            {"key": r.key, "code": r.code, "zh": r.zh, "en": r.en, "points": r.points}
            | {"sentence_zh": r.sentence_zh, "sentence_en": r.sentence_en}
            for r in explanation.reasons
        ]
        assert [(m["measure"], m["probability_after"]) for m in item["measures"]] == [
            (w.measure, w.probability_after) for w in explanation.what_if
        ]


@pytest.mark.parametrize("explain", [True, False])
def test_identical_requests_get_identical_answers(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame, explain: bool
) -> None:
    body = {"profiles": _rows(batch_profiles, 3), "explain": explain}
    headers = bearer(db, Role.MONITOR)
    first, again = (client.post("/v1/profiles:score", json=body, headers=headers) for _ in range(2))
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()


def _random_rows(batch_profiles: pd.DataFrame, seed: int) -> list[dict[str, Any]]:
    """1–4 real rows with random gaps, odd-but-valid values and meta cells of other types."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(batch_profiles), size=int(rng.integers(1, 5)), replace=False)
    rows = [profile_row(batch_profiles, int(i)) for i in picks]
    names = [item.name for item in FEATURES]
    for row in rows:
        for name in rng.choice(names, size=int(rng.integers(0, 12)), replace=False):
            row[str(name)] = None if rng.random() < 0.5 else row.get(str(name))
        count = next(item.name for item in FEATURES if item.kind == "count")
        if rng.random() < 0.3:
            row[count] = float(rng.integers(0, 4)) + (0.5 if rng.random() < 0.5 else 0.0)  # a float for a count
        if rng.random() < 0.3:
            row["income_year"] = int(rng.integers(2020, 2025))  # an int among floats in a multi-row request
        if rng.random() < 0.2:
            row["monitoring_line_yuan"] = None
        if rng.random() < 0.2:
            row["county_code"] = None
        if rng.random() < 0.2:
            row["as_of"] = "2024-12-31"
        if rng.random() < 0.1:
            row["main_industry"] = None
    return rows


def _frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(zip(frame.columns, frame.iloc[i].to_numpy(dtype=object), strict=True)) for i in range(len(frame))]


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
    cases = [*_variants(_rows(batch_profiles, 6)), *(_random_rows(batch_profiles, seed) for seed in range(40))]
    for first, second in META_CELLS:
        two = _rows(batch_profiles, 2)
        cases.append([{**two[0], "income_year": first}, {**two[1], "income_year": second}])
    for rows in cases:
        _same_cells(profile_values(rows, AS_OF), _frame_rows(profiles_from_rows(rows, AS_OF)))


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
    rows = _rows(batch_profiles, 2)
    rows[1] = {**rows[1], **change}
    with pytest.raises(InvalidFieldError) as frame_error:
        profiles_from_rows(rows, AS_OF)
    with pytest.raises(InvalidFieldError) as values_error:
        profile_values(rows, AS_OF)
    assert (values_error.value.field, values_error.value.row) == (frame_error.value.field, frame_error.value.row)
    assert (field, row) == (frame_error.value.field, frame_error.value.row)
    assert str(values_error.value) == str(frame_error.value)


def test_values_matrix_is_bitwise_prepare(holder: ModelHolder, batch_profiles: pd.DataFrame) -> None:
    assert holder.current is not None
    model = holder.current.model
    for seed in range(20):
        rows = _random_rows(batch_profiles, seed)
        expected = model.prepare(profiles_from_rows(rows, AS_OF))
        np.testing.assert_array_equal(values_matrix(model, profile_values(rows, AS_OF)), expected)


@pytest.mark.parametrize("explain", [True, False])
def test_scoring_the_values_answers_and_records_what_scoring_the_frame_does(
    holder: ModelHolder, db: Database, batch_profiles: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, explain: bool
) -> None:
    """The whole decision — response, stored score, audit entry and input hash — from the row values and from
    the frame, on real households with random gaps."""
    assert holder.current is not None
    recorded: list[list[dict[str, Any]]] = []

    def record(connection: object, parts: list[Decisions]) -> None:
        recorded.append([row for part in parts for row in part.prepared])

    monkeypatch.setattr(scoring, "write_decisions", record)
    caller = Caller(None, Role.MONITOR, Scope("99"))
    context = scoring.ScoreContext(caller, holder.current, db, ServiceSettings(database_url="sqlite://"))
    for seed in range(30):
        rows = _random_rows(batch_profiles, seed)
        by_values = scoring.score_profiles(context, profile_values(rows, AS_OF), explain=explain)
        by_frame = scoring.score_profiles(context, profiles_from_rows(rows, AS_OF), explain=explain)
        assert by_values.model_dump_json() == by_frame.model_dump_json()
        assert recorded[-2] == recorded[-1]


def test_large_requests_still_build_the_frame(batch_profiles: pd.DataFrame) -> None:
    rows = _rows(batch_profiles, 1) * (_ROWWISE_MAX + 1)
    assert isinstance(profiles_for_scoring(rows, AS_OF), pd.DataFrame)
    assert isinstance(profiles_for_scoring(rows[:_ROWWISE_MAX], AS_OF), list)


def _reference_plain(value: Any) -> Any:
    """`service.scoring._plain` before its fast paths for the common cell types."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def test_the_input_hash_cells_are_plain_as_before(batch_profiles: pd.DataFrame) -> None:
    odd: list[Any] = [np.float64("nan"), float("nan"), -0.0, np.float64(-0.0), 1e308, np.int64(-3), 2**70, True]
    odd += [np.bool_(False), pd.NA, pd.NaT, pd.Timestamp("2025-01-01"), "文本", None, np.float32(1.5), np.int32(7)]
    cells = [*odd, *(value for row in _frame_rows(batch_profiles.head(50)) for value in row.values())]
    for value in cells:
        got, expected = scoring._plain(value), _reference_plain(value)
        assert type(got) is type(expected) and json.dumps(got, default=str) == json.dumps(expected, default=str)
