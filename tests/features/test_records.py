"""`json_records` is the inverse of `coerce_records`: a city's tables turned into JSON rows and coerced again are
the same tables, and the rows hold only JSON values (no missing cells, no numpy or pandas scalars)."""

from __future__ import annotations

import json

import pandas as pd

from features.reading.records import json_records
from features.reading.sources import Sources, coerce_records


def test_a_citys_tables_survive_json_rows_and_coercion(small_city: Sources) -> None:
    for name, frame in small_city.tables.items():
        part = frame.iloc[:: max(1, len(frame) // 40)].reset_index(drop=True)  # small tables: the cell-wise path
        rows = json_records(part)
        assert json.loads(json.dumps(rows)) == rows, name  # plain JSON values only
        assert all(value is not None for row in rows for value in row.values()), name
        again = coerce_records({name: rows}, {}).tables[name]
        pd.testing.assert_frame_equal(again[list(part.columns)], part, check_dtype=True, obj=name)


def test_missing_cells_are_left_out_and_dates_are_days() -> None:
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-02-29", None]),
            "amount": [1.5, float("nan")],
            "count": pd.array([3, None], dtype="Int64"),
            "flag": pd.array([None, True], dtype="boolean"),
            "code": pd.array(["a", None], dtype="string[pyarrow]"),
        }
    )
    assert json_records(frame) == [{"when": "2024-02-29", "amount": 1.5, "count": 3, "code": "a"}, {"flag": True}]
