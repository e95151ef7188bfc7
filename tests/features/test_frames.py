"""Small frames built from their columns' arrays give what pandas' own constructors give."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from features.reading.frames import column_arrays, column_index, frame_of, text_array

CELLS = st.one_of(st.none(), st.just(np.nan), st.text(max_size=8), st.integers(-5, 5), st.floats(allow_nan=False))


@given(st.lists(CELLS, max_size=6), st.sampled_from(["str", "string"]))
def test_text_array_is_pandas_text_array(cells: list[object], dtype: str) -> None:
    values = np.array(cells, dtype=object)
    expected = pd.array(values, dtype=dtype)
    got = text_array(values, dtype)
    assert got.dtype == expected.dtype
    assert got.equals(expected)


@given(
    st.lists(st.one_of(st.none(), st.text(max_size=5)), min_size=1, max_size=4),
    st.lists(st.floats(allow_nan=True, allow_infinity=False), min_size=4, max_size=4),
)
def test_a_frame_rebuilt_from_its_column_arrays_is_equal_and_shares_nothing(texts: list, numbers: list) -> None:
    n = len(texts)
    frame = pd.DataFrame(
        {
            "text": pd.array(texts, dtype="str"),
            "count": pd.array([1, None, 3, 4][:n], dtype="Int64"),
            "number": np.array(numbers[:n]),
            "day": pd.to_datetime(["2024-01-01", None, "2024-03-01", "2024-04-01"][:n]),
        }
    )
    rebuilt = frame_of(column_arrays(frame), frame.index)
    pd.testing.assert_frame_equal(rebuilt, frame)
    rebuilt.loc[0, "number"] = 99.0  # a write to the new frame does not reach the old one
    assert frame.loc[0, "number"] != 99.0 or numbers[0] == 99.0


def test_column_labels_are_built_once_per_list() -> None:
    names = ("a", "b", "c")
    assert column_index(names) is column_index(tuple("abc"))  # an equal tuple, built apart
    assert column_index(names).equals(pd.Index(list(names)))
