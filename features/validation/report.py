"""Validate source tables against the contract, reporting every violation at once.

`validate_sources` never stops at the first problem: a data manager fixing an export wants the whole list
(counted in full, with the first `max_per_kind` examples of each table, column and reason). Each example
names the table, the row's key, its 1-based row number, the column and the reason — never the value of a
personal column.

The checks are vectorised (one Arrow/NumPy pass per column and rule) so that a province-scale folder —
millions of households, tens of millions of yearly member rows — validates in seconds. A few rows (one household's
document, an API request) are judged cell by cell instead (`features.validation._rows`), with the same report:
there the kernels' fixed cost per column is all the work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Final, Literal

import pandas as pd

from features.contract.tables import TABLES
from features.contract.violations import WITHHELD, Reason, Violation
from features.reading.sources import Sources, coerce_sources, read_sources
from features.validation._column_checks import check_all_columns
from features.validation._row_rules import check_row_rules
from features.validation._rows import check_rows
from features.validation._violations import Collector, Kind

__all__ = ["DEFAULT_MAX_PER_KIND", "WITHHELD", "Reason", "ValidationReport", "Violation", "validate_sources"]

DEFAULT_MAX_PER_KIND = 1_000

# Up to this many rows in all tables, `validate_sources` judges cell by cell: a few household documents, with the
# county's villages that the service's reference adds (a county has a few hundred). The row path's cost grows
# with the cells, the columnar path's is mostly fixed per column; benchmarks/validation_bench.py compares them.
ROWWISE_MAX_ROWS: Final = 1_000

Method = Literal["auto", "columns", "rows"]


@dataclass
class ValidationReport:
    """All violations of one source folder: full counts, capped examples, and reader warnings."""

    violations: list[Violation]
    counts: dict[tuple[str, str, str], int]  # (table, column, reason) → number of rows
    rows: dict[str, int]  # table → rows read
    warnings: list[str] = field(default_factory=list)
    max_per_kind: int = DEFAULT_MAX_PER_KIND

    @property
    def ok(self) -> bool:
        return not self.counts

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> pd.DataFrame:
        """One row per (table, column, reason) with its count, in contract table order."""
        order = {name: i for i, name in enumerate(TABLES)}
        records = [
            {"table": t, "column": c, "reason": r, "count": n}
            for (t, c, r), n in sorted(self.counts.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0]))
        ]
        return pd.DataFrame(records, columns=["table", "column", "reason", "count"])

    def to_frame(self) -> pd.DataFrame:
        """The stored violations as a table (e.g. to send back to the data provider)."""
        return pd.DataFrame(
            [vars(v) for v in self.violations],
            columns=["table", "row_key", "row", "column", "reason", "value"],
        )

    def __str__(self) -> str:
        if self.ok:
            return f"valid: {len(self.rows)} tables, {sum(self.rows.values())} rows"
        lines = [f"{self.total} violations"]
        for record in self.summary().itertuples(index=False):
            lines.append(f"  {record.table:<16} {record.column:<32} {record.reason:<34} {record.count:>10}")
        return "\n".join(lines)


def validate_sources(
    source: Path | str | Sources,
    *,
    max_per_kind: int = DEFAULT_MAX_PER_KIND,
    today: date | None = None,
    method: Method = "auto",
) -> ValidationReport:
    """Check a source folder (or tables already in memory) against every rule of the contract.

    `today` bounds the dates (nothing can be recorded in the future); it defaults to the current date. `method`
    chooses how the rules are judged — "columns" (vectorised) or "rows" (cell by cell), with the same report;
    "auto" takes rows up to `ROWWISE_MAX_ROWS` rows in all tables.
    """
    sources = read_sources(source) if isinstance(source, Path | str) else coerce_sources(source)
    if method not in ("auto", "columns", "rows"):
        raise ValueError(f"unknown validation method {method!r}")
    if method == "auto":
        method = "rows" if sum(len(frame) for frame in sources.tables.values()) <= ROWWISE_MAX_ROWS else "columns"
    if method == "rows":
        found, counts = check_rows(sources, max_per_kind, today or date.today())
    else:
        found, counts = _check_columns(sources, max_per_kind, today or date.today())
    order = {name: i for i, name in enumerate(TABLES)}
    violations = sorted(found, key=lambda v: (order[v.table], v.row or 0, v.column, v.reason))
    return ValidationReport(
        violations=violations,
        counts=counts,
        rows={name: len(frame) for name, frame in sources.tables.items()},
        warnings=list(sources.warnings),
        max_per_kind=max_per_kind,
    )


def _check_columns(sources: Sources, max_per_kind: int, today: date) -> tuple[list[Violation], dict[Kind, int]]:
    collector = Collector(sources, max_per_kind)
    check_all_columns(collector)
    check_row_rules(collector, today)
    return collector.violations, collector.counts


def describe_reason(reason: str) -> str:
    return Reason(reason).text
