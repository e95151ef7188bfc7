"""Frames assembled from their columns' arrays, one block per column, without pandas' per-column machinery.

`pd.concat(columns, axis=1)` and `pd.DataFrame(dict)` have a fixed cost per column: at one household (an API
request: ~10 tables of ~10 columns) it adds up to more than the work on the values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionArray
from pandas.api.internals import create_dataframe_from_blocks
from pandas.arrays import ArrowStringArray


def column_block(values: pd.Series | np.ndarray | ExtensionArray, *, copy: bool = False) -> Any:
    """A column's block for `create_dataframe_from_blocks`: an extension array as it is, numpy values (datetime64
    too) as one 2-D row. With `copy`, a Series' values are copied; arrays are always taken as they are."""
    if isinstance(values, np.ndarray):
        return values.reshape(1, -1)
    if isinstance(values, ExtensionArray):
        return values
    if isinstance(values.dtype, np.dtype):
        return values.to_numpy(copy=copy).reshape(1, -1)
    return values.array.copy() if copy else values.array


def frame_of(columns: Mapping[str, pd.Series | np.ndarray | ExtensionArray], index: pd.Index) -> pd.DataFrame:
    """The frame `pd.concat(columns, axis=1)` gives for columns of equal length aligned on `index`.

    The values of Series are copied (the new frame's blocks are not tracked by copy-on-write, so sharing them
    with a caller's frame could let a write reach it): meant for small frames, where copies cost next to
    nothing. Arrays are used as they are."""
    blocks = [
        (column_block(values, copy=True), np.array([position])) for position, values in enumerate(columns.values())
    ]
    return create_dataframe_from_blocks(blocks, index, column_index(tuple(columns)))


@lru_cache(maxsize=1024)
def column_index(names: tuple[str, ...]) -> pd.Index:
    """The column labels as an Index, built once per list of names: inferring and validating a text Index is a
    fixed cost per frame, and small frames repeat the same few lists. An Index is immutable, so frames can share one."""
    return pd.Index(list(names))


def column_array(frame: pd.DataFrame, position: int) -> Any:
    """The values of the column at `position` without building a Series: at a few rows, making a Series per column
    costs more than the work on it. `_get_column_array` is pandas' own accessor; without it, the Series' array."""
    get = getattr(frame, "_get_column_array", None)
    return get(position) if get is not None else frame.iloc[:, position].array


def column_arrays(frame: pd.DataFrame) -> dict[str, np.ndarray | ExtensionArray]:
    """Each column's values as a fresh array (a copy: a frame built on them shares nothing with `frame`), read
    without making a Series per column. For small frames; with repeated names the last such column wins."""
    return {name: column_array(frame, i).copy() for i, name in enumerate(frame.columns)}


def text_array(values: Sequence[object] | np.ndarray, dtype: str = "str") -> ExtensionArray:
    """`pd.array(values, dtype=dtype)` for a text dtype ("str", or "string" with <NA>) of text and missing values,
    made straight from Arrow without pandas' inference of each value (one household's columns); other values take
    pandas' own conversion."""
    target = _text_dtype(dtype)
    if getattr(target, "storage", None) == "pyarrow":
        with suppress(pa.ArrowInvalid, pa.ArrowTypeError):
            return ArrowStringArray(pa.array(values, pa.large_string(), from_pandas=True), dtype=target)  # type: ignore[call-arg]  # the stubs lag pandas 3
    return pd.array(values, dtype=target)


@lru_cache(maxsize=4)
def _text_dtype(dtype: str) -> Any:
    return pd.api.types.pandas_dtype(dtype)
