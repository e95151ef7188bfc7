"""Validate source tables against the contract, reporting every violation at once.

`validate_sources` never stops at the first problem: a data manager fixing an export wants the whole list
(counted in full, with the first `max_per_kind` examples of each table, column and reason). Each example
names the table, the row's key, its 1-based row number, the column and the reason — never the value of a
personal column.

The checks are vectorised (one Arrow/NumPy pass per column and rule) so that a province-scale folder —
millions of households, tens of millions of yearly member rows — validates in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from features.contract.tables import TABLES
from features.contract.violations import WITHHELD, Reason, Violation
from features.reading.sources import Sources, coerce_sources, read_sources
from features.validation._column_checks import check_all_columns
from features.validation._row_rules import check_row_rules
from features.validation._violations import Collector

__all__ = ["DEFAULT_MAX_PER_KIND", "WITHHELD", "Reason", "ValidationReport", "Violation", "validate_sources"]

DEFAULT_MAX_PER_KIND = 1_000


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
    source: Path | str | Sources, *, max_per_kind: int = DEFAULT_MAX_PER_KIND, today: date | None = None
) -> ValidationReport:
    """Check a source folder (or tables already in memory) against every rule of the contract.

    `today` bounds the dates (nothing can be recorded in the future); it defaults to the current date.
    """
    sources = read_sources(source) if isinstance(source, Path | str) else coerce_sources(source)
    collector = Collector(sources, max_per_kind)
    check_all_columns(collector)
    check_row_rules(collector, today or date.today())
    violations = sorted(
        collector.violations,
        key=lambda v: (list(TABLES).index(v.table), v.row or 0, v.column, v.reason),
    )
    return ValidationReport(
        violations=violations,
        counts=collector.counts,
        rows={name: len(frame) for name, frame in sources.tables.items()},
        warnings=list(sources.warnings),
        max_per_kind=max_per_kind,
    )


def describe_reason(reason: str) -> str:
    return Reason(reason).text
