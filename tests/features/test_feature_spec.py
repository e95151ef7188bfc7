"""The YAML feature spec: round trip, validation errors that name the field, and parsing a foreign table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.profiles.catalogue import FEATURE_NAMES
from features.profiles.spec import (
    FeatureSpec,
    FeatureSpecEntry,
    FeatureSpecError,
    apply_feature_spec,
    catalogue_spec,
    parse_feature_spec,
    read_feature_spec,
    write_feature_spec,
)


def test_catalogue_spec_round_trips(tmp_path: Path) -> None:
    spec = catalogue_spec()
    assert spec.names == FEATURE_NAMES
    again = read_feature_spec(write_feature_spec(spec, tmp_path / "spec.yaml"))
    assert again == spec


def test_our_own_profiles_parse_unchanged(city_profiles: pd.DataFrame) -> None:
    parsed = apply_feature_spec(city_profiles, catalogue_spec())
    for name in ("hospital_oop_12m_yuan", "members_count", "village_type", "housing_unsafe"):
        pd.testing.assert_series_equal(parsed[name], city_profiles[name], check_dtype=False, check_categorical=False)


def test_a_foreign_table_is_typed_by_its_spec() -> None:
    spec = FeatureSpec(
        (
            FeatureSpecEntry("debt_yuan", "number", "income", "household debt", "yuan", 1),
            FeatureSpecEntry("elders", "count"),
            FeatureSpecEntry("well_water", "flag", parse={"true": ["是"], "false": ["否"]}),
            FeatureSpecEntry("terrain", "category", parse={"categories": ["plain", "hill"]}),
        ),
        id_columns=("household_id", "as_of"),
    )
    table = pd.DataFrame(
        {
            "household_id": ["a", "b", "c"],
            "as_of": ["2024-01-01"] * 3,
            "debt_yuan": ["1200.5", "NA", ""],
            "elders": ["0", "2", "1"],
            "well_water": ["是", "否", None],
            "terrain": ["hill", "plain", "NA"],
            "ignored": [1, 2, 3],
        }
    )
    parsed = apply_feature_spec(table, spec)
    assert list(parsed.columns) == ["household_id", "as_of", "debt_yuan", "elders", "well_water", "terrain"]
    np.testing.assert_array_equal(parsed["debt_yuan"], [1200.5, np.nan, np.nan])
    assert parsed["elders"].dtype == np.int64
    np.testing.assert_array_equal(parsed["well_water"], [1.0, 0.0, np.nan])
    assert parsed["terrain"].astype(object).tolist()[:2] == ["hill", "plain"] and pd.isna(parsed["terrain"][2])


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("debt_yuan", ["12", "lots"], "debt_yuan, row 1: cannot read 'lots' as a number"),
        ("elders", ["1", "1.5"], "elders, row 1: a count must be a whole number"),
        ("terrain", ["hill", "desert"], "terrain, row 1: cannot read 'desert' as a category"),
    ],
)
def test_bad_cells_name_column_and_row(column: str, values: list[str], message: str) -> None:
    spec = FeatureSpec(
        (
            FeatureSpecEntry("debt_yuan", "number"),
            FeatureSpecEntry("elders", "count"),
            FeatureSpecEntry("terrain", "category", parse={"categories": ["plain", "hill"]}),
        ),
        id_columns=("household_id",),
    )
    table = pd.DataFrame({"household_id": ["a", "b"], "debt_yuan": ["1", "2"], "elders": ["1", "2"],
                          "terrain": ["hill", "plain"]})  # fmt: skip
    table[column] = values
    with pytest.raises(FeatureSpecError, match=message):
        apply_feature_spec(table, spec)


def test_missing_columns_are_listed() -> None:
    spec = FeatureSpec((FeatureSpecEntry("x", "number"),), id_columns=("household_id",))
    with pytest.raises(FeatureSpecError, match="lacks columns: household_id, x"):
        apply_feature_spec(pd.DataFrame({"y": [1]}), spec)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 2, "features": []}, "version: 2 is not supported"),
        ({"features": []}, "features: expected a non-empty list"),
        ({"features": [{"type": "number"}]}, r"features\[0\].name: required"),
        ({"features": [{"name": "a", "type": "text"}]}, r"features\[0\].type \(a\): 'text' is not one of"),
        ({"features": [{"name": "a", "type": "number"}, {"name": "a", "type": "count"}]}, "appears twice"),
        ({"features": [{"name": "a", "type": "number", "direction": 2}]}, r"direction \(a\): 2 is not"),
        ({"features": [{"name": "a", "type": "category"}]}, r"parse.categories \(a\): a category needs"),
    ],
)
def test_spec_errors_name_the_field(document: dict[str, object], message: str) -> None:
    with pytest.raises(FeatureSpecError, match=message):
        parse_feature_spec(document)


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("features: [\n", encoding="utf-8")
    with pytest.raises(FeatureSpecError, match="not valid YAML"):
        read_feature_spec(path)
