"""Coercion of small tables (one household's, as the API sends them) equals the Arrow path of large ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features.contract.tables import TABLES
from features.reading import _coercion
from features.reading._coercion import coerce_table

CELLS = [
    *("a", " a", "a ", "\ta", "a\n", "\u3000甲", "乙\u3000", "a\r"),  # padding `_text` looks for
    *("\u00a0a", "a\u00a0", "", "  ", "a b", "是", None),  # padding it trims only with the rest; empties; nulls
]


def _arrow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_coercion, "_SMALL_ROWS", -1)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_small_columns_give_the_same_text_as_the_arrow_kernels(
    seed: int, dtype: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    cells = [CELLS[i] for i in rng.integers(0, len(CELLS), rng.integers(1, 8))]
    values = pd.Series(cells, dtype=dtype)  # type: ignore[call-overload]
    small = _coercion._text(values)
    _arrow_path(monkeypatch)
    large = _coercion._text(values)
    assert small.type == large.type
    assert pa.chunked_array([small]).to_pylist() == pa.chunked_array([large]).to_pylist()


def _status_rows(rng: np.random.Generator) -> pd.DataFrame:
    """One household's member-status rows as a source system might type them: padding, labels instead of codes,
    numbers as text, unreadable cells, an unknown column, and some contract columns left out."""
    n = int(rng.integers(1, 7))

    def pick(options: list[object]) -> list[object]:
        return [options[i] for i in rng.integers(0, len(options), n)]

    return pd.DataFrame(
        {
            "member_id": [f" M{i} " if rng.random() < 0.3 else f"M{i}" for i in range(n)],
            "survey_year": pick(["2023", " 2024", "2024.0", "2,024", "x", "", None]),
            "recorded_date": pick(
                ["2024-01-02", "2024/01/02", "20240102", " 2023-05-06", "1800-01-01", "", None, "no"]
            ),
            # Mostly codes (the all-known shortcut), sometimes a label or an unknown value.
            "schooling_stage": pick(["primary", "junior", "primary", "初中", "junior secondary", "unknown", "", None]),
            "health": pick(["healthy", "chronic|disabled", "长期慢性病、残疾", "", None, "chronic, unknown"]),
            "disability_grade": pick([1, 2.0, 2.5, None, np.nan]),
            "basic_medical_insurance": pick(["true", "否", "1", "yes", "maybe", "", None]),
            "note": pick(["x", None]),
        }
    )


@pytest.mark.parametrize("seed", range(30))
def test_small_tables_coerce_exactly_as_the_arrow_path_including_bad_cells(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = TABLES["member_status"]
    frame = _status_rows(np.random.default_rng(seed))
    small = coerce_table(frame, table)
    _arrow_path(monkeypatch)
    large = coerce_table(frame, table)
    pd.testing.assert_frame_equal(small.frame, large.frame)
    assert small.unparsed.keys() == large.unparsed.keys()  # the same columns named, with the same rows
    for column, raw in small.unparsed.items():
        pd.testing.assert_series_equal(raw, large.unparsed[column])
    assert (small.missing_columns, small.dropped_columns) == (large.missing_columns, large.dropped_columns)
    assert "note" in small.dropped_columns and small.missing_columns
