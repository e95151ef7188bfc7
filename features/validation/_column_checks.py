"""Checks that look at one column at a time: types, required values, codes, formats, ranges, keys, references.

Each check turns a whole column into one boolean mask with Arrow or NumPy kernels; code combinations are
judged once per distinct combination, never once per row.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.tables import CODES_SEPARATOR, TABLES, Column, Table
from features.contract.violations import Reason
from features.reading._arrow import as_arrow, dictionary_encode, lookup_rows
from features.validation._violations import Collector

# Codes that describe the absence of every other state; "healthy|chronic" is a contradiction (docs/domain.md §6).
EXCLUSIVE_CODES: Final = frozenset({"healthy"})


def check_columns(collector: Collector, table: Table) -> None:
    skipped = set(collector.sources.missing_columns.get(table.name, ()))
    for column_name in skipped:
        collector.add_table_level(table.name, column_name, Reason.MISSING_COLUMN)
    for column in table.columns:
        raw = collector.sources.unparsed.get((table.name, column.name))
        if raw is not None:
            collector.add(table.name, column.name, Reason.WRONG_TYPE, raw.index.to_numpy(), raw)
        if column.name in skipped:
            continue
        if not column.nullable:
            collector.add(table.name, column.name, Reason.MISSING_REQUIRED, collector.absent(table.name, column.name))
        if collector.nulls(table.name, column.name).all():
            continue  # codes, formats and ranges judge present values only
        values = collector.column(table.name, column.name)
        if column.kind == "code":
            _check_code(collector, table, column, values)
        elif column.kind == "codes":
            _check_codes(collector, table, column, values)
        if column.pattern is not None:
            matches = pc.match_substring_regex(as_arrow(values), column.pattern)
            collector.add(table.name, column.name, Reason.PATTERN, _false_where_valid(matches))
        if column.minimum is not None or column.maximum is not None:
            _check_range(collector, table, column, values)


def _false_where_valid(flags: pa.Array) -> np.ndarray:
    """Rows where a rule evaluated to false (a missing cell is not judged here)."""
    return np.asarray(pc.fill_null(pc.invert(flags), False))


def _check_code(collector: Collector, table: Table, column: Column, values: pd.Series) -> None:
    assert column.codes is not None
    known = pc.is_in(as_arrow(values), value_set=pa.array(list(column.codes)))
    present = ~collector.nulls(table.name, column.name)
    collector.add(table.name, column.name, Reason.BAD_CODE, present & ~np.asarray(known))


def _check_codes(collector: Collector, table: Table, column: Column, values: pd.Series) -> None:
    assert column.codes is not None
    encoded = dictionary_encode(as_arrow(values))
    bad, combined = [], []
    for combination in encoded.dictionary.to_pylist():
        tokens = combination.split(CODES_SEPARATOR)
        bad.append(any(t not in column.codes for t in tokens))
        combined.append(len(tokens) > 1 and any(t in EXCLUSIVE_CODES for t in tokens))
    for flags, reason in ((bad, Reason.BAD_CODE), (combined, Reason.EXCLUSIVE_CODE_COMBINED)):
        per_row = pc.take(pa.array(flags, pa.bool_()), encoded.indices)
        collector.add(table.name, column.name, reason, np.asarray(pc.fill_null(per_row, False)))


def _check_range(collector: Collector, table: Table, column: Column, values: pd.Series) -> None:
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        if column.minimum is not None:
            below = numbers < column.minimum
            # Money is never negative; saying so is clearer than "below the minimum 0".
            money = column.unit == "yuan" and column.minimum == 0
            collector.add(table.name, column.name, Reason.NEGATIVE_AMOUNT if money else Reason.BELOW_MINIMUM, below)
        if column.maximum is not None:
            collector.add(table.name, column.name, Reason.ABOVE_MAXIMUM, numbers > column.maximum)


def check_duplicate_keys(collector: Collector, table: Table) -> None:
    """Every row after the first with the same key (a row with an empty key part is MISSING_REQUIRED)."""
    frame = collector.sources[table.name]
    if not len(frame):
        return
    combined = np.zeros(len(frame), dtype=np.int64)
    incomplete = np.zeros(len(frame), dtype=bool)
    cardinality = 1
    for name in table.key:
        codes, size = _key_codes(collector, table, name)
        incomplete |= codes < 0
        if len(table.key) == 1 and table.column(name).kind == "str":
            if size == int((~incomplete).sum()):
                return  # as many distinct keys as rows: nothing is duplicated (the usual case, no hashing)
        if cardinality * (size + 1) >= 2**62:
            combined, uniques = pd.factorize(combined)  # renumber densely so that the next step cannot overflow
            cardinality = len(uniques)
        # Mixed-radix number of the key parts' codes: one int64 per row instead of a tuple of objects.
        combined = combined * (size + 1) + codes + 1
        cardinality *= size + 1
    collector.add(
        table.name,
        ",".join(table.key),
        Reason.DUPLICATE_KEY,
        _later_duplicates(combined, incomplete, cardinality),
    )


def _later_duplicates(combined: np.ndarray, incomplete: np.ndarray, cardinality: int) -> np.ndarray:
    """Rows whose key code occurred in an earlier row. Dense codes are counted with one `bincount` pass,
    much cheaper than hashing tens of millions of keys; only rows in a shared key are hashed."""
    if cardinality > 4 * len(combined):
        return pd.Series(combined).duplicated().to_numpy() & ~incomplete
    counts = np.bincount(combined[~incomplete], minlength=cardinality)
    shared = np.flatnonzero((counts[combined] > 1) & ~incomplete)
    duplicated = np.zeros(len(combined), dtype=bool)
    duplicated[shared] = pd.Series(combined[shared]).duplicated().to_numpy()
    return duplicated


def _key_codes(collector: Collector, table: Table, name: str) -> tuple[np.ndarray, int]:
    """Dense non-negative codes of one key column (-1 where empty) and their number."""
    column = table.column(name)
    values = collector.column(table.name, name)
    if column.kind in ("int", "date"):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan) if column.kind == "int" else None
        if numbers is None:
            raw = values.to_numpy(dtype="datetime64[ns]")
            numbers = np.where(np.isnat(raw), np.nan, raw.astype("datetime64[D]").astype(np.float64))
        present = ~np.isnan(numbers)
        if not present.any():
            return np.full(len(values), -1, dtype=np.int64), 0
        low = np.nanmin(numbers)
        codes = np.where(present, numbers - low, -1).astype(np.int64)
        return codes, int(np.nanmax(numbers) - low) + 1
    encoded = collector.encoded(table.name, name)
    return np.asarray(encoded.indices.fill_null(-1), dtype=np.int64), len(encoded.dictionary)


def check_references(collector: Collector, table: Table) -> None:
    frame = collector.sources[table.name]
    for column in table.columns:
        if column.references is None or not len(frame):
            continue
        target_table, target_column = column.references.split(".")
        encoded = collector.encoded(table.name, column.name)
        targets = collector.encoded(target_table, target_column).dictionary
        known = np.asarray(pc.is_in(encoded.dictionary, value_set=targets))
        orphan = ~lookup_rows(encoded, known, missing=True)
        collector.add(table.name, column.name, Reason.ORPHAN_REFERENCE, orphan)


def check_all_columns(collector: Collector) -> None:
    for table in TABLES.values():
        if table.name in collector.sources.tables:
            check_columns(collector, table)
            check_duplicate_keys(collector, table)
            check_references(collector, table)
