"""The collector that counts every violation but keeps only the first few of each kind.

A source folder with millions of rows can break one rule a million times; the report must still say how
often (`counts`) but only needs examples (`max_per_kind` per table, column and reason) to be actionable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract.tables import TABLES
from features.contract.violations import WITHHELD, Reason, Violation
from features.reading._arrow import as_arrow, dictionary_encode
from features.reading.sources import Sources

Kind = tuple[str, str, str]  # (table, column, reason)


class Collector:
    """Counts every violation, stores the first `max_per_kind` of each (table, column, reason)."""

    def __init__(self, sources: Sources, max_per_kind: int) -> None:
        self.sources = sources
        self.max_per_kind = max_per_kind
        self.counts: dict[Kind, int] = {}
        self.violations: list[Violation] = []
        self._encoded: dict[tuple[str, str], pa.DictionaryArray] = {}
        self._columns: dict[str, dict[str, pd.Series]] = {}
        self._nulls: dict[str, dict[str, np.ndarray]] = {}

    def column(self, table: str, column: str) -> pd.Series:
        """One column of a source table. Every check reads several columns several times; the table's columns
        are taken from its frame in one pass, since a frame lookup per read costs as much as a check on a
        one-household document."""
        if table not in self._columns:
            self._columns[table] = {str(name): values for name, values in self.sources[table].items()}
        return self._columns[table][column]

    def nulls(self, table: str, column: str) -> np.ndarray:
        """Rows whose cell is missing (empty or unreadable), for the whole table in one pass."""
        if table not in self._nulls:
            frame = self.sources[table]
            missing = frame.isna().to_numpy()
            self._nulls[table] = {name: missing[:, j] for j, name in enumerate(frame.columns)}
        return self._nulls[table][column]

    def encoded(self, table: str, column: str) -> pa.DictionaryArray:
        """Dictionary encoding of a text column, computed once: keys, references and member links share
        it, so each id column of tens of millions of rows is hashed a single time."""
        if (table, column) not in self._encoded:
            self._encoded[(table, column)] = dictionary_encode(as_arrow(self.column(table, column)))
        return self._encoded[(table, column)]

    def unparsed(self, table: str, column: str) -> np.ndarray:
        """Rows whose cell had a value that could not be read (already reported as wrong type)."""
        mask = np.zeros(len(self.sources[table]), dtype=bool)
        raw = self.sources.unparsed.get((table, column))
        if raw is not None:
            mask[raw.index.to_numpy()] = True
        return mask

    def absent(self, table: str, column: str) -> np.ndarray:
        """Rows with a truly empty cell (an unreadable cell is not also reported as empty)."""
        nulls = self.nulls(table, column)
        if (table, column) not in self.sources.unparsed:
            return nulls
        return nulls & ~self.unparsed(table, column)

    def add(self, table: str, column: str, reason: Reason, where: np.ndarray, values: pd.Series | None = None) -> None:
        """Record the rows in `where` (bool mask or positions); `values` is indexed by row position."""
        positions = np.flatnonzero(where) if where.dtype == bool else np.asarray(where)
        if not len(positions):
            return
        kind = (table, column, reason.value)
        stored = min(self.counts.get(kind, 0), self.max_per_kind)
        self.counts[kind] = self.counts.get(kind, 0) + len(positions)
        take = positions[: max(self.max_per_kind - stored, 0)]
        if not len(take):
            return
        frame = self.sources[table]
        keys = _row_keys(frame, TABLES[table].key, take)
        shown = _shown_values(table, column, frame, take, values)
        for position, key, value in zip(take, keys, shown, strict=True):
            self.violations.append(Violation(table, key, column, reason.value, value, int(position) + 1))

    def add_table_level(self, table: str, column: str, reason: Reason) -> None:
        kind = (table, column, reason.value)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.violations.append(Violation(table, "", column, reason.value, None, None))


def _row_keys(frame: pd.DataFrame, key: tuple[str, ...], positions: np.ndarray) -> list[str]:
    parts = [[_as_text(v) or "?" for v in frame[name].iloc[positions]] for name in key]
    return ["/".join(values) for values in zip(*parts, strict=True)]


def _shown_values(
    table: str, column: str, frame: pd.DataFrame, positions: np.ndarray, values: pd.Series | None
) -> list[str | None]:
    if column in TABLES[table].column_names and TABLES[table].column(column).personal:
        return [WITHHELD] * len(positions)  # never echo an ID number, not even in an error
    if values is None:
        if column not in frame.columns:
            return [None] * len(positions)
        values = frame[column]
    return [_as_text(v) for v in values.loc[positions]]


def _as_text(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)
