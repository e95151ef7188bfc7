"""Low-level column helpers for the profile builder: ids → positions, dates → day numbers, codes → ints.

Speed matters here (1 M households, ~20 M member-status rows in ≤ 60 s on 2 cores): hashing tens of
millions of id strings would dominate the build, so ids of the usual shape (a fixed prefix and a fixed number
of digits, e.g. "H000012345") are parsed to integers by Arrow and looked up in a dense table.
Ids of any other shape fall back to Arrow's hash lookup. Both paths give the same positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# A dense lookup table is used while the largest id number is at most this many times the key count
# (plus a constant); otherwise a sorted search.
_DENSE_FACTOR = 8
_MAX_DIGITS = 18  # int64 holds every 18-digit number
# Up to this many values, plain Python dictionaries beat Arrow's per-call overhead (the API profiles one
# household per request: every microsecond of fixed cost counts there). Both paths give the same answer.
SMALL = 512


def arrow_strings(values: pd.Series) -> pa.Array:
    """The column as one Arrow string array (no copy for pyarrow-backed strings)."""
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.large_string())
    return arr


class KeyIndex:
    """Positions of ids in a key column; -1 for ids not in it and for missing ids.

    When a key occurs twice the first occurrence wins (validation reports duplicate keys).
    """

    def __init__(self, keys: pd.Series) -> None:
        self.size = len(keys)
        self._lut: np.ndarray | None = None
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None
        self._prefix: str | None = None
        self._small: dict[object, int] | None = None
        if self.size <= SMALL:
            small: dict[object, int] = {}
            for position, key in enumerate(keys.array):  # iterating: no list of the whole column
                if isinstance(key, str):
                    small.setdefault(key, position)
            self._small = small
            return
        self._keys = arrow_strings(keys)
        self._prefix, self._width = _numeric_layout(self._keys)
        if self._prefix is None:
            return
        numbers = self._numbers(self._keys)
        assert numbers is not None
        order = np.arange(self.size, dtype=np.int64)
        top = int(numbers.max()) if self.size else 0
        if top <= _DENSE_FACTOR * self.size + 1_000_000:
            lut = np.full(top + 1, -1, dtype=np.int64)
            lut[numbers[::-1]] = order[::-1]  # first occurrence wins
            self._lut = lut
        else:
            sort = np.argsort(numbers, kind="stable")
            self._sorted = (numbers[sort], sort)

    def positions(self, values: pd.Series, rows: np.ndarray | None = None) -> np.ndarray:
        """Positions of `values` (or of `values` at the row positions `rows`)."""
        if self._small is not None and len(values) <= SMALL:
            small = self._small
            taken = _objects(values, rows)
            return np.fromiter((small.get(v, -1) for v in taken), dtype=np.int64, count=len(taken))
        arr = _take(arrow_strings(values), rows)
        if self._small is not None:
            found = _fill(pc.index_in(arr, value_set=pa.array(list(self._small), type=arr.type)))
            where = np.append(np.fromiter(self._small.values(), dtype=np.int64, count=len(self._small)), -1)
            return where[found]  # found −1 reads the trailing −1
        if self._prefix is None:
            return _fill(pc.index_in(arr, value_set=self._keys))
        numbers = self._numbers(arr)
        if numbers is None:
            return np.full(len(arr), -1, dtype=np.int64)
        known = numbers >= 0
        out = np.full(len(arr), -1, dtype=np.int64)
        if self._lut is not None:
            inside = known & (numbers < len(self._lut))
            out[inside] = self._lut[numbers[inside]]
            return out
        assert self._sorted is not None
        sorted_numbers, sort = self._sorted
        where = np.searchsorted(sorted_numbers, numbers[known])
        where = np.minimum(where, max(len(sorted_numbers) - 1, 0))
        hit = sorted_numbers[where] == numbers[known] if len(sorted_numbers) else np.zeros(0, bool)
        out[np.flatnonzero(known)[hit]] = sort[where[hit]]
        return out

    def _numbers(self, arr: pa.Array) -> np.ndarray | None:
        """The id numbers; -1 where the value does not have the keys' shape (so it matches no key)."""
        assert self._prefix is not None
        if len(arr) == 0:
            return np.zeros(0, dtype=np.int64)
        rest = pc.utf8_slice_codeunits(arr, len(self._prefix))
        shaped = pc.and_kleene(
            pc.and_kleene(pc.starts_with(arr, self._prefix), pc.equal(pc.binary_length(arr), self._width)),
            pc.ascii_is_decimal(rest),
        )
        shaped = pc.fill_null(shaped, False)
        if not pc.any(shaped).as_py():
            return None
        digits = pc.if_else(shaped, rest, pa.scalar("0", rest.type))
        numbers = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
        return np.where(shaped.to_numpy(zero_copy_only=False), numbers, -1)


def _objects(values: pd.Series, rows: np.ndarray | None) -> list[object]:
    """A few values as Python objects (a missing one as None or NaN, which no lookup finds). Iterating the array
    avoids `to_numpy(dtype=object)`'s fixed cost on an Arrow string column, which dominates at a few values."""
    objects = list(values.array)
    return objects if rows is None else [objects[i] for i in rows.tolist()]


def _take(arr: pa.Array, rows: np.ndarray | None) -> pa.Array:
    return arr if rows is None else arr.take(pa.array(rows, type=pa.int64()))


def _fill(found: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _numeric_layout(keys: pa.Array) -> tuple[str | None, int]:
    """(prefix, byte width) when every key is that prefix followed by digits; (None, 0) otherwise."""
    if len(keys) == 0 or keys.null_count:
        return None, 0
    first = keys[0].as_py()
    prefix = first.rstrip("0123456789")
    width = len(first.encode())
    digits = width - len(prefix.encode())
    if not prefix.isascii() or digits == 0 or digits > _MAX_DIGITS:
        return None, 0
    lengths = pc.min_max(pc.binary_length(keys)).as_py()
    if lengths["min"] != width or lengths["max"] != width:
        return None, 0
    rest = pc.utf8_slice_codeunits(keys, len(prefix))
    if not (pc.all(pc.starts_with(keys, prefix)).as_py() and pc.all(pc.ascii_is_decimal(rest)).as_py()):
        return None, 0
    return prefix, width


def days(values: pd.Series) -> np.ndarray:
    """Dates as float day numbers since 1970-01-01 (NaN when missing); any date-like dtype."""
    dtype = values.dtype
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_date(dtype.pyarrow_dtype):
        arr = pc.cast(pa.array(values), pa.date32()).cast(pa.int32())
        return np.asarray(pc.fill_null(pc.cast(arr, pa.float64()), np.nan).to_numpy(zero_copy_only=False))
    if not pd.api.types.is_datetime64_any_dtype(dtype):
        values = pd.to_datetime(values)
    raw = np.asarray(values)
    if raw.dtype.kind != "M":  # a timezone-aware or otherwise wrapped column
        raw = values.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT"))
    out = raw.astype("datetime64[D]").astype(np.int64).astype(float)
    out[np.isnat(raw)] = np.nan
    return out


def day_number(date: pd.Timestamp) -> float:
    return float((date.normalize() - pd.Timestamp("1970-01-01")).days)


def code_index(
    values: pd.Series, categories: list[str] | tuple[str, ...], rows: np.ndarray | None = None
) -> np.ndarray:
    """Position of each value (at `rows`, when given) in `categories`; -1 when missing or unknown."""
    if len(values) <= SMALL:
        lookup: dict[object, int] = {c: i for i, c in enumerate(categories)}
        taken = _objects(values, rows)
        return np.fromiter((lookup.get(v, -1) for v in taken), dtype=np.int64, count=len(taken))
    arr = _take(arrow_strings(values), rows)
    found = pc.index_in(arr, value_set=pa.array(list(categories), type=arr.type))
    return _fill(found)


def floats(values: pd.Series) -> np.ndarray:
    """Numbers as float64 with NaN for missing (nullable Int64/boolean columns included)."""
    if values.dtype == np.float64:
        return values.to_numpy()
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) and values.dtype.kind in "iufb":
        return values.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan))


def latest_rows(groups: np.ndarray, order: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the row with the largest `order` (ties: the later row); -1 for groups without rows.

    `groups` are group positions (rows with -1 are ignored); `order` must be finite.
    """
    keep = groups >= 0
    rows = np.flatnonzero(keep)
    g = groups[keep]
    o = order[keep]
    best = np.full(n_groups, -np.inf)
    np.maximum.at(best, g, o)
    top = o == best[g]
    out = np.full(n_groups, -1, dtype=np.int64)
    np.maximum.at(out, g[top], rows[top])
    return out
