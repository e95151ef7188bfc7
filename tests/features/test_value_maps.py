"""Value maps in a feature spec: "yes"/"no", "是"/"否", "n/a" or a sentinel inside typed columns → values or missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.profiles.spec import FeatureSpecError, apply_feature_spec, read_feature_spec

SPEC = """\
version: 1
features:
  - name: loans
    type: number
    values: {yes: 1, no: 0, 是: 1, 否: 0, n/a: null, "999": null}
  - name: children
    type: count
    values: {none: 0, 无: 0, unknown: null}
  - name: insured
    type: flag
    values: {covered: 1, not covered: 0, 不详: null}
  - name: village
    type: category
    parse: {categories: ["01", "02"]}
    values: {former poor: "01", general: "02", "?": null}
"""


def spec_file(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def frame(**columns: list[str]) -> pd.DataFrame:
    base = {"loans": ["1"], "children": ["1"], "insured": ["1"], "village": ["01"]}
    rows = max(len(v) for v in columns.values()) if columns else 1
    return pd.DataFrame({k: columns.get(k, v * rows) for k, v in base.items()})


def test_unquoted_yes_and_no_are_cell_text_not_booleans(tmp_path: Path) -> None:
    spec = read_feature_spec(spec_file(tmp_path))
    assert spec.features[0].values == {"yes": 1, "no": 0, "是": 1, "否": 0, "n/a": None, "999": None}
    assert spec.id_columns == ()  # none written, none invented


@pytest.mark.parametrize(
    ("column", "cells", "expected"),
    [
        # Keys ignore case and surrounding spaces; the map wins over the type's own reading (999 is a number).
        ("loans", ["yes", " No ", "是", "否", "n/a", "999", "2.5", "", "YES"], [1, 0, 1, 0, None, None, 2.5, None, 1]),
        ("children", ["none", "无", "3", "unknown", "NONE"], [0, 0, 3, None, 0]),
        ("insured", ["covered", "Not Covered", "1", "0", "不详", "false"], [1, 0, 1, 0, None, 0]),
        ("village", ["former poor", "General", "01", "02", "?", ""], ["01", "02", "01", "02", None, None]),
    ],
)
def test_mapped_cells_take_their_values(tmp_path: Path, column: str, cells: list[str], expected: list[object]) -> None:
    parsed = apply_feature_spec(frame(**{column: cells}), read_feature_spec(spec_file(tmp_path)))[column]
    got = [None if pd.isna(v) else v for v in parsed.tolist()]
    assert got == expected


def test_a_count_with_a_value_mapped_to_null_is_float_and_without_one_stays_int(tmp_path: Path) -> None:
    spec = read_feature_spec(spec_file(tmp_path))
    assert apply_feature_spec(frame(children=["none", "2"]), spec)["children"].dtype == np.int64
    assert apply_feature_spec(frame(children=["none", "unknown"]), spec)["children"].dtype == np.float64


@pytest.mark.parametrize(
    ("column", "cells", "row", "value"),
    [
        ("loans", ["yes", "no", "maybe"], 2, "maybe"),
        ("children", ["none", "several"], 1, "several"),
        ("insured", ["covered", "partly"], 1, "partly"),
        ("village", ["former poor", "key assisted"], 1, "key assisted"),
    ],
)
def test_an_unmapped_word_names_column_row_value_and_the_map(
    tmp_path: Path, column: str, cells: list[str], row: int, value: str
) -> None:
    with pytest.raises(FeatureSpecError) as caught:
        apply_feature_spec(frame(**{column: cells}), read_feature_spec(spec_file(tmp_path)))
    message = str(caught.value)
    assert message.startswith(f"{column}, row {row}: cannot read {value!r}"), message
    if column != "village":  # a category's message lists its categories, not the map
        assert "not one of the column's values" in message, message


def test_without_a_map_the_error_says_where_to_add_one(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "features:\n  - {name: debt, type: number}\n")
    with pytest.raises(FeatureSpecError, match=r"^debt, row 1: cannot read 'yes' as a number; map it .* `values:`"):
        apply_feature_spec(pd.DataFrame({"debt": ["1", "yes"]}), read_feature_spec(path))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: a, type: number, values: [yes, no]}", r"features\[0\]\.values \(a\): expected a mapping"),
        ("{name: a, type: number, values: {yes: many}}", r"features\[0\]\.values\.yes \(a\): 'many' is not a number"),
        ("{name: a, type: flag, values: {yes: 2}}", r"a flag maps to 1, 0 or null, not 2"),
        ("{name: a, type: count, values: {few: 1.5}}", r"a count maps to a whole number ≥ 0 or null, not 1.5"),
        ("{name: a, type: number, values: {Yes: 1, yes: 1}}", r"'yes' appears twice"),
        (
            "{name: a, type: category, parse: {categories: [x]}, values: {y: z}}",
            r"'z' is not one of the categories x",
        ),
        ("{name: a, type: number, valuse: {yes: 1}}", r"features\[0\] \(a\): unknown key 'valuse'"),
        ("{name: a, type: number, parse: {missng: [x]}}", r"features\[0\]\.parse \(a\): unknown key 'missng'"),
    ],
)
def test_a_map_that_does_not_fit_its_column_is_a_spec_error(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(FeatureSpecError, match=message):
        read_feature_spec(spec_file(tmp_path, f"features:\n  - {entry}\n"))


def test_an_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(FeatureSpecError, match=r"^spec: unknown key 'id_column'; expected one of"):
        read_feature_spec(spec_file(tmp_path, "id_column: [id]\nfeatures:\n  - {name: a, type: number}\n"))
