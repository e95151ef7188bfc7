"""Bridging pandas columns to Arrow compute kernels without copying them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def as_arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The column as Arrow data without copying it: Parquet columns stay in their chunks, because
    concatenating tens of millions of strings costs more than every kernel run on them."""
    return pa.array(values, from_pandas=True)


def dictionary_encode(values: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """One dictionary for the whole column (Arrow encodes chunks against a shared, growing dictionary,
    so only the small int32 indices are concatenated)."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.DictionaryArray):
        return encoded
    if encoded.num_chunks == 0:
        return pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), pa.array([], values.type))
    indices = pa.concat_arrays([chunk.indices for chunk in encoded.chunks])
    return pa.DictionaryArray.from_arrays(indices, encoded.chunks[-1].dictionary)


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
