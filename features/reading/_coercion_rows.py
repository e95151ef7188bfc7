"""Coerce a few rows given as JSON objects (one household's document, an API request) cell by cell.

`coerce_rows(rows, table)` gives exactly what `coerce_table(pd.DataFrame(rows), table)` gives (values,
dtypes, unparsed cells, missing and dropped columns) without the intermediate frame: building a DataFrame
from records and running ~10 pandas and Arrow calls per column costs more than a household's whole profile.
It takes the cells JSON brings, each of its column's kind: text for text, codes and dates, numbers for
numbers, booleans for flags, and null anywhere. For any other cell it returns None and the caller takes
the frame path, which judges every cell (tests/features/test_coercion_rows.py checks both agree).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionArray
from pandas.arrays import ArrowStringArray, IntegerArray

from features.contract.dtypes import pandas_dtype
from features.contract.tables import Column, Table
from features.reading._coercion import (
    _EARLIEST,
    _LATEST,
    _SMALL_ROWS,
    KEPT_EXTRA_COLUMNS,
    CoercedTable,
    _finish_number,
    small_text,
    text_values,
)
from features.reading.frames import frame_of

# A date exactly as ISO 8601 writes it: the first of the date formats `_coerce_date` tries.
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Integers up to 2**53 convert to float64 exactly; beyond, pandas' inference and float rounding take over.
_EXACT_INT: Final = 2**53


class _Unplain(Exception):
    """A cell this path does not judge: the table takes the frame path."""


def coerce_rows(rows: Sequence[Mapping[str, Any]], table: Table) -> CoercedTable | None:
    """`coerce_table(pd.DataFrame(rows), table)` for up to `_SMALL_ROWS` rows of plain JSON cells, else None."""
    if not rows or len(rows) > _SMALL_ROWS:
        return None
    names = list(dict.fromkeys(name for row in rows for name in row))  # the frame's columns, in its order
    present = set(names)
    out: dict[str, np.ndarray | ExtensionArray] = {}
    unparsed: dict[str, pd.Series] = {}
    missing = []
    try:
        for column in table.columns:
            if column.name not in present:
                missing.append(column.name)
                out[column.name] = _missing(column, len(rows))
                continue
            values, bad = _coerce_cells([row.get(column.name) for row in rows], column)
            out[column.name] = values
            if bad is not None:
                unparsed[column.name] = bad
        dropped = []
        for name in names:
            if name in table.column_names:
                continue
            if name in KEPT_EXTRA_COLUMNS:
                out[name] = ArrowStringArray(small_text(_text_array([row.get(name) for row in rows])))
            else:
                dropped.append(name)
    except _Unplain:
        return None
    return CoercedTable(frame_of(out, pd.RangeIndex(len(rows))), unparsed, tuple(missing), tuple(dropped))


def _missing(column: Column, n: int) -> np.ndarray | ExtensionArray:
    """An absent column: all missing, in the column's dtype (as `_all_missing`)."""

    if column.kind == "float":
        return np.full(n, np.nan)
    if column.kind == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    return pd.array([None] * n, dtype=cast(Any, pandas_dtype(column)))


def _coerce_cells(cells: list[Any], column: Column) -> tuple[np.ndarray | ExtensionArray, pd.Series | None]:
    """A column's values (a fresh array) and its unparsed cells, if any."""
    kind = column.kind
    if kind in ("str", "code", "codes"):
        return ArrowStringArray(text_values(small_text(_text_array(cells)), column)), None
    if kind == "bool":
        if not all(cell is None or type(cell) is bool for cell in cells):
            raise _Unplain
        return pd.array(cells, dtype="boolean"), None
    if kind in ("int", "float"):
        return _numbers(cells, integer=kind == "int")
    if kind == "date":
        return np.array([_date(cell) for cell in cells], dtype="datetime64[ns]"), None
    raise AssertionError(f"unknown column kind {kind!r}")


def _text_array(cells: list[Any]) -> pa.Array:
    if not all(cell is None or type(cell) is str for cell in cells):
        raise _Unplain
    return pa.array(cells, pa.large_string())


def _numbers(cells: list[Any], *, integer: bool) -> tuple[np.ndarray | ExtensionArray, pd.Series | None]:
    floats = np.empty(len(cells), dtype=np.float64)
    for i, cell in enumerate(cells):
        kind = type(cell)
        if cell is None:
            floats[i] = np.nan
        elif (kind is int and -_EXACT_INT < cell < _EXACT_INT) or (kind is float and np.isfinite(cell)):
            floats[i] = cell
        else:
            raise _Unplain  # text, booleans, huge integers, NaN or infinity
    if not integer:
        return floats, None
    if all(cell is None or type(cell) is int for cell in cells):
        # What `pd.array(cells, dtype="Int64")` gives, from the floats already parsed: no second pass over the cells.
        missing = np.isnan(floats)
        return IntegerArray(np.where(missing, 0, floats).astype(np.int64), missing), None
    # Fractions in an integer column are unparsed cells, as the frame path finds them.
    values, unparsed = _finish_number(pd.Series(cells, dtype=object), floats, integer=True)
    return values.array, unparsed


def _date(cell: Any) -> np.datetime64:
    if cell is None:
        return np.datetime64("NaT")
    if type(cell) is not str or not _ISO_DATE.fullmatch(cell):
        raise _Unplain
    try:
        day = date.fromisoformat(cell)
    except ValueError:
        raise _Unplain from None  # not a calendar day: the frame path reports it
    if not _EARLIEST.date() <= day <= _LATEST.date():
        raise _Unplain
    return np.datetime64(day, "ns")
