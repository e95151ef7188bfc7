"""Coerce one source table to the contract's dtypes, remembering every cell that could not be parsed.

Source systems deliver text (CSV), loosely typed Parquet or in-memory frames; after coercion every
column has `features.contract.dtypes.pandas_dtype`. Work is done on Arrow arrays because the same code runs on
tens of millions of rows: every step is one vectorised kernel, and Python only ever sees the *distinct*
values of code columns (a handful), never the rows.

Cells that cannot be parsed become missing; their raw text is kept in `CoercedTable.unparsed` so that
validation can name them ("wrong type") instead of silently accepting a gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

from features.contract import codes
from features.contract.dtypes import pandas_dtype
from features.contract.tables import CODES_SEPARATOR, DROPPED_AT_INGESTION, PSEUDONYM_COLUMNS, Column, Table
from features.reading._arrow import as_arrow, dictionary_encode
from features.reading.frames import frame_of

# Separators people type between health states in spreadsheets, besides the contract's "|".
_CODES_SPLIT: Final = re.compile(r"\s*[|、，,；;]\s*")

# Padding seen in exports: spreadsheets, fixed-width database CHAR columns, the ideographic space U+3000.
# Literal prefix/suffix tests are several times faster than one regular expression over every cell.
_SPACES: Final = (" ", "\t", "\u3000", "\n", "\r")

# Up to this many rows, `_text` scans the cells in Python (same result as the Arrow kernels, tested).
_SMALL_ROWS: Final = 64

_TRUE: Final = ("true", "t", "1", "1.0", "yes", "y", "是", "真")
_FALSE: Final = ("false", "f", "0", "0.0", "no", "n", "否", "假")

# Older dates are typos in this domain (nobody alive was born before 1900) and would not fit datetime64[ns].
_EARLIEST: Final = pd.Timestamp("1900-01-01")
_LATEST: Final = pd.Timestamp("2200-12-31")
_DATE_FORMATS: Final = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S")

# Columns that are not in the contract but that ingestion needs (or removes) later.
KEPT_EXTRA_COLUMNS: Final = (*PSEUDONYM_COLUMNS, *DROPPED_AT_INGESTION)


@dataclass
class CoercedTable:
    frame: pd.DataFrame
    unparsed: dict[str, pd.Series] = field(default_factory=dict)  # column → raw text, indexed by row
    missing_columns: tuple[str, ...] = ()
    dropped_columns: tuple[str, ...] = ()


def coerce_table(frame: pd.DataFrame, table: Table) -> CoercedTable:
    """Contract dtypes for every contract column (absent ones all missing), unknown columns dropped."""
    frame = frame.reset_index(drop=True)  # row position + 1 is the row number in the file
    out: dict[str, pd.Series] = {}
    unparsed: dict[str, pd.Series] = {}
    missing = []
    for column in table.columns:
        if column.name not in frame.columns:
            missing.append(column.name)
            out[column.name] = _all_missing(column, len(frame))
            continue
        values, bad = coerce_column(frame[column.name], column)
        out[column.name] = values
        if bad is not None and len(bad):
            unparsed[column.name] = bad
    dropped = []
    for name in frame.columns:
        if name in table.column_names:
            continue
        if name in KEPT_EXTRA_COLUMNS:
            out[str(name)] = _to_pandas_string(_text(frame[name]))
        else:
            dropped.append(str(name))
    # concat keeps one block per column: building from a dict would copy every float column into one
    # 2-D block, which at tens of millions of rows costs more than all the checks. A small table (one
    # household's) is assembled from its columns' arrays: concat's fixed cost per column dominates there.
    if not out:
        coerced = pd.DataFrame(index=frame.index)
    elif len(frame) <= _SMALL_ROWS:
        coerced = frame_of(out, frame.index)
    else:
        coerced = pd.concat(out, axis=1)
    return CoercedTable(coerced, unparsed, tuple(missing), tuple(dropped))


def _all_missing(column: Column, n: int) -> pd.Series:

    return pd.Series([None] * n, dtype=pandas_dtype(column))


def coerce_column(values: pd.Series, column: Column) -> tuple[pd.Series, pd.Series | None]:
    """(coerced values, raw text of the unparseable cells or None)."""
    kind = column.kind
    if kind in ("str", "code", "codes"):
        return _to_pandas_string(text_values(_text(values), column)), None
    if kind == "bool":
        return _coerce_bool(values)
    if kind in ("int", "float"):
        return _coerce_number(values, integer=kind == "int")
    if kind == "date":
        return _coerce_date(values)
    raise AssertionError(f"unknown column kind {kind!r}")


def text_values(text: pa.Array | pa.ChunkedArray, column: Column) -> pa.Array | pa.ChunkedArray:
    """The values of a text column (`str`, `code` or `codes`) from its trimmed text (`_text`)."""
    if column.kind == "str":
        if column.personal:
            return pc.utf8_upper(text)  # ID check character: "x" and "X" are the same
        return text
    assert column.codes is not None
    return _map_codes(text, column.codes) if column.kind == "codes" else _map_code(text, column.codes)


def _text(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """Trimmed text as an Arrow array, with empty cells as nulls (an empty CSV cell is a missing value)."""
    if not isinstance(values.dtype, pd.StringDtype):  # also pandas 3 "str" and mixed object columns
        values = values.astype("string")
    arr = as_arrow(values)
    if len(arr) <= _SMALL_ROWS:
        return small_text(arr)
    # Clean data (the usual case for Parquet) is only scanned, never copied: at tens of millions of rows
    # every avoided copy of a column is seconds saved.
    if any(pc.any(edge(arr, space)).as_py() for space in _SPACES for edge in (pc.starts_with, pc.ends_with)):
        arr = pc.utf8_trim_whitespace(arr)
    if pc.any(pc.equal(arr, "")).as_py():
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    return arr


def small_text(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """`_text` for a column of a few rows (one household's table, an API request): the same decisions from the
    cells in Python, instead of a dozen Arrow kernel calls per column whose fixed cost dominates at a few rows."""
    cells = arr.to_pylist()
    if any(cell is not None and (cell.startswith(_SPACES) or cell.endswith(_SPACES)) for cell in cells):
        arr = pc.utf8_trim_whitespace(arr)
        cells = arr.to_pylist()
    if "" in cells:
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    return arr


def _to_pandas_string(arr: pa.Array) -> pd.Series:
    return pd.Series(ArrowStringArray(arr))


def _label_lookup(labels: codes.Labels) -> dict[str, str]:
    """Code, Chinese label or English label → code (the code itself wins a clash)."""
    lookup = {}
    for code, (zh, en) in labels.items():
        lookup[zh] = code
        lookup[en] = code
    lookup.update({code: code for code in labels})
    return lookup


def _map_code(text: pa.Array, labels: codes.Labels) -> pa.Array:
    """Chinese/English labels → codes; unknown values are kept so that validation can show them."""
    if len(text) <= _SMALL_ROWS:
        if all(cell is None or cell in labels for cell in text.to_pylist()):
            return text  # the common case: already codes
    else:
        known = pc.or_(pc.is_in(text, value_set=pa.array(list(labels))), pc.is_null(text))  # is_in(null) is false
        if pc.all(known).as_py():
            return text  # the common case: already codes
    lookup = _label_lookup(labels)
    mapped = pc.take(pa.array(list(lookup.values()), pa.large_string()), pc.index_in(text, pa.array(list(lookup))))
    return pc.coalesce(mapped, text)


def _map_codes(text: pa.Array, labels: codes.Labels) -> pa.Array:
    """Map each token of a combination ("长期慢性病、残疾" → "chronic|disabled"), in code-list order."""
    encoded = dictionary_encode(text)
    distinct = encoded.dictionary.to_pylist()  # a few dozen combinations, not rows
    lookup = _label_lookup(labels)
    order = {code: i for i, code in enumerate(labels)}
    normalised = []
    for combination in distinct:
        tokens = [lookup.get(t, t) for t in _CODES_SPLIT.split(combination) if t]
        unique = list(dict.fromkeys(tokens))
        unique.sort(key=lambda t: order.get(t, len(order)))  # unknown tokens last, in their order
        normalised.append(CODES_SEPARATOR.join(unique) or None)
    return pc.take(pa.array(normalised, text.type), encoded.indices)


def _coerce_bool(values: pd.Series) -> tuple[pd.Series, pd.Series | None]:
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean"), None
    text = pc.utf8_lower(_text(values))
    keys = pa.array([*_TRUE, *_FALSE], text.type)
    flags = pa.array([True] * len(_TRUE) + [False] * len(_FALSE))
    parsed = pc.take(flags, pc.index_in(text, keys))
    return _with_unparsed(values, text, parsed, pd.Series(pd.array(parsed, dtype="boolean")))


def _coerce_number(values: pd.Series, *, integer: bool) -> tuple[pd.Series, pd.Series | None]:
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        if integer and pd.api.types.is_integer_dtype(values.dtype):
            return values.astype("Int64"), None
        if not integer and values.dtype == np.float64 and not np.isinf(values.to_numpy()).any():
            return values, None  # already float64; NaN is a missing value
        floats = values.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
        return _finish_number(values, floats, integer=integer)
    text = _text(values)
    try:
        parsed = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:  # some cell is not a number: parse cell by cell, digit-group commas allowed
        cleaned = pd.Series(ArrowStringArray(pc.replace_substring(text, ",", "")))
        parsed = pa.array(pd.to_numeric(cleaned, errors="coerce").astype("float64"), from_pandas=True)
    floats = parsed.to_numpy(zero_copy_only=False)
    floats = np.where(np.asarray(parsed.is_valid()), floats, np.nan)
    return _finish_number(values, floats, integer=integer, text=text)


def _finish_number(
    values: pd.Series, floats: np.ndarray, *, integer: bool, text: pa.Array | None = None
) -> tuple[pd.Series, pd.Series | None]:
    present = ~pd.isna(values).to_numpy() if text is None else np.asarray(text.is_valid())
    usable = np.isfinite(floats)
    if integer:
        usable &= floats == np.round(floats)
    bad = present & ~usable
    floats = np.where(usable, floats, np.nan)
    unparsed = _raw_cells(values, bad)
    if not integer:
        return pd.Series(floats), unparsed
    ints = pd.array(np.where(usable, floats, 0).astype(np.int64), dtype="Int64")
    ints[~usable] = pd.NA
    return pd.Series(ints), unparsed


def _coerce_date(values: pd.Series) -> tuple[pd.Series, pd.Series | None]:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if values.dtype == "datetime64[ns]" and (
            values.empty or (values.min() >= _EARLIEST and values.max() <= _LATEST)
        ):
            return values, None
        in_range = values.isna() | ((values >= _EARLIEST) & (values <= _LATEST))
        bad = ~in_range.to_numpy()
        dates = values.where(in_range).astype("datetime64[ns]")
        return dates, _raw_cells(values, bad)
    text = _text(values)
    parsed = pc.strptime(text, format=_DATE_FORMATS[0], unit="s", error_is_null=True)
    for fmt in _DATE_FORMATS[1:]:
        if pc.all(pc.or_(pc.is_valid(parsed), pc.is_null(text))).as_py():
            break
        parsed = pc.coalesce(parsed, pc.strptime(text, format=fmt, unit="s", error_is_null=True))
    # Drop the time of day some exports append; a source date is a calendar day.
    parsed = pc.floor_temporal(parsed, unit="day")
    in_range = pc.and_(
        pc.greater_equal(parsed, pa.scalar(_EARLIEST, pa.timestamp("s"))),
        pc.less_equal(parsed, pa.scalar(_LATEST, pa.timestamp("s"))),
    )
    parsed = pc.if_else(in_range, parsed, pa.scalar(None, pa.timestamp("s")))
    dates = pd.Series(parsed.to_numpy(zero_copy_only=False)).astype("datetime64[ns]")
    return _with_unparsed(values, text, parsed, dates)


def _with_unparsed(
    values: pd.Series, text: pa.Array, parsed: pa.Array, result: pd.Series
) -> tuple[pd.Series, pd.Series | None]:
    bad = np.asarray(text.is_valid()) & ~np.asarray(parsed.is_valid())
    return result, _raw_cells(values, bad)


def _raw_cells(values: pd.Series, bad: np.ndarray) -> pd.Series | None:
    if not bad.any():
        return None
    positions = np.flatnonzero(bad)
    return pd.Series(values.iloc[positions].astype(str).to_numpy(), index=positions, dtype="string")
