"""Bridging pandas columns to Arrow compute kernels without copying them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def as_arrow(values: pd.Series) -> pa.Array:
    """The column as one Arrow array (zero-copy for Arrow-backed strings held in one chunk)."""
    arr = pa.array(values, from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def lookup_rows(encoded: pa.DictionaryArray, per_distinct: np.ndarray, missing: object) -> np.ndarray:
    """Spread one value per distinct entry of a dictionary-encoded column back to its rows.

    Judging each distinct value once (a few million member ids) instead of each row (tens of millions of
    member-years) is what keeps reference checks fast. Null rows get `missing`.
    """
    indices = encoded.indices
    present = np.asarray(indices.is_valid())
    positions = indices.fill_null(0).to_numpy()
    if len(per_distinct) == 0:
        return np.full(len(indices), missing, dtype=per_distinct.dtype)
    out = per_distinct[positions]
    out[~present] = missing
    return out
