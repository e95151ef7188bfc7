"""Every check of the contract for a few rows (one household's document, an API request), cell by cell.

The columnar checks (`_column_checks`, `_row_rules`) run one Arrow or NumPy kernel per column and rule: nothing
at millions of rows, but at one household's ~20 rows the ~100 columns each pay several kernel calls whose fixed
cost is all there is. Here each of those checks is restated on plain Python values, read once per column, and
recorded with the same counting, capping and wording as `Collector`, so that `validate_sources` reports the same
thing field for field whichever path it takes (tests/features/test_validation_rows.py proves it on generated
sources with every kind of violation). A rule changed there must be changed here too; that test fails until it is.

Cells are plain values: text for text and code columns, `int` for integers, `bool` for flags, `float` for
numbers, nanoseconds since the epoch for dates, and None wherever the frame holds a missing value.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract.id_numbers import id_check_character
from features.contract.tables import CODES_SEPARATOR, TABLES, Column, Table
from features.contract.violations import WITHHELD, Reason, Violation
from features.reading.frames import column_array
from features.reading.sources import Sources
from features.validation._column_checks import EXCLUSIVE_CODES
from features.validation._row_rules import FUTURE_ALLOWED, MEMBER_DATES, REQUIRED_BY_EVENT_TYPE, SPELL_TABLES
from features.validation._violations import Kind, _as_text

_DAY_NS: Final = 86_400 * 10**9
# Arrow's regular expressions are RE2: `\d` is ASCII only and `$` is the end of the text. Python's `re` needs
# re.ASCII for the first and `\Z` for the second (its `$` also matches before a final newline).
_ID_NUMBER: Final = re.compile(r"[0-9]{17}[0-9X]\Z")


def check_rows(sources: Sources, max_per_kind: int, today: date) -> tuple[list[Violation], dict[Kind, int]]:
    """The violations (unsorted, capped per kind) and their full counts, as the columnar checks record them."""
    cells = {name: _Cells(sources, name) for name in TABLES if name in sources.tables}
    report = _Report(max_per_kind)
    # The order of the columnar path (`check_all_columns`, then `check_row_rules`), so that capping keeps the
    # same examples.
    for table in cells.values():
        _check_columns(report, sources, table)
        _check_duplicate_keys(report, table)
        _check_references(report, table, cells)
    present = {name: table for name, table in cells.items() if table.n}
    _future_dates(report, present, np.datetime64(today, "ns").astype(np.int64).item())
    _member_links(report, present)
    _events(report, present)
    _households(report, present)
    _assistance(report, present)
    _identifications(report, present)
    _id_numbers(report, present)
    return report.violations, report.counts


class _Cells:
    """One source table as lists of plain cells, each contract column read from its frame once."""

    def __init__(self, sources: Sources, name: str) -> None:
        self.name = name
        self.table: Table = TABLES[name]
        self.frame = sources.tables[name]
        self.n = len(self.frame)
        self.unparsed: dict[str, dict[int, Any]] = {}
        for (table, column_name), raw in sources.unparsed.items():
            if table == name:
                self.unparsed[column_name] = dict(zip(raw.index.tolist(), raw.tolist(), strict=True))
        self.columns: dict[str, list[Any]] = {column.name: [] for column in self.table.columns}
        if self.n:
            for column in self.table.columns:
                self.columns[column.name] = _plain_cells(_column_array(self.frame, column.name), column)

    def __getitem__(self, column: str) -> list[Any]:
        return self.columns[column]

    def absent(self, column: str, row: int) -> bool:
        """A truly empty cell (an unreadable one is reported as a wrong type, not also as empty)."""
        return self.columns[column][row] is None and row not in self.unparsed.get(column, ())

    def text(self, column: str, row: int) -> str | None:
        """The cell as `Collector` shows it (`_as_text` of the frame's value)."""
        value = self.columns[column][row]
        if value is not None and self.table.column(column).kind == "date":
            return str(pd.Timestamp(value).strftime("%Y-%m-%d"))
        return None if value is None else str(value)


def _column_array(frame: pd.DataFrame, name: str) -> Any:
    """A column's values by name (`column_array`), without building a Series."""
    position = frame.columns.get_loc(name)  # a hash lookup; listing a text Index costs more
    if not isinstance(position, int):  # a repeated name: the last such column, as `Collector.column` reads it
        position = int(np.arange(len(frame.columns))[position][-1])
    return column_array(frame, position)


def _plain_cells(values: Any, column: Column) -> list[Any]:
    if column.kind == "float":
        return [None if v != v else v for v in np.asarray(values, dtype=np.float64).tolist()]  # NaN is missing
    if column.kind == "date":
        ns = np.asarray(values, dtype="datetime64[ns]").view(np.int64).tolist()
        nat = np.iinfo(np.int64).min
        return [None if v == nat else v for v in ns]
    cells: list[Any] = pa.array(values, from_pandas=True).to_pylist()
    return cells


class _Report:
    """`Collector.add` and `add_table_level` for plain row lists: every row counted, `max_per_kind` kept."""

    def __init__(self, max_per_kind: int) -> None:
        self.max_per_kind = max_per_kind
        self.counts: dict[Kind, int] = {}
        self.violations: list[Violation] = []

    def add(
        self, cells: _Cells, column: str, reason: Reason, rows: list[int], values: dict[int, Any] | None = None
    ) -> None:
        """Record `rows` (ascending positions); `values` replaces the frame's cells (an unparsed cell's text)."""
        if not rows:
            return
        kind = (cells.name, column, reason.value)
        stored = min(self.counts.get(kind, 0), self.max_per_kind)
        self.counts[kind] = self.counts.get(kind, 0) + len(rows)
        for row in rows[: max(self.max_per_kind - stored, 0)]:
            key = "/".join(cells.text(name, row) or "?" for name in cells.table.key)
            self.violations.append(
                Violation(cells.name, key, column, reason.value, _shown(cells, column, row, values), row + 1)
            )

    def add_table_level(self, table: str, column: str, reason: Reason) -> None:
        kind = (table, column, reason.value)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.violations.append(Violation(table, "", column, reason.value, None, None))


def _shown(cells: _Cells, column: str, row: int, values: dict[int, Any] | None) -> str | None:
    if column in cells.table.column_names and cells.table.column(column).personal:
        return WITHHELD  # never echo an ID number, not even in an error
    if values is not None:
        return _as_text(values[row])
    if column not in cells.frame.columns:
        return None
    return cells.text(column, row)


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    """The contract's pattern with RE2's meaning (see `_ID_NUMBER`); searched, as Arrow's match_substring_regex."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern, re.ASCII)


def _check_columns(report: _Report, sources: Sources, cells: _Cells) -> None:
    skipped = set(sources.missing_columns.get(cells.name, ()))
    for column_name in skipped:
        report.add_table_level(cells.name, column_name, Reason.MISSING_COLUMN)
    for column in cells.table.columns:
        raw = cells.unparsed.get(column.name)
        if raw is not None:
            report.add(cells, column.name, Reason.WRONG_TYPE, list(raw), raw)
        if column.name in skipped:
            continue
        values = cells[column.name]
        if not column.nullable:
            report.add(
                cells, column.name, Reason.MISSING_REQUIRED, _rows(cells.absent(column.name, i) for i in range(cells.n))
            )
        present = [(i, v) for i, v in enumerate(values) if v is not None]
        if not present:
            continue  # codes, formats and ranges judge present values only
        if column.kind == "code":
            assert column.codes is not None
            report.add(cells, column.name, Reason.BAD_CODE, [i for i, v in present if v not in column.codes])
        elif column.kind == "codes":
            _check_codes(report, cells, column, present)
        if column.pattern is not None:
            search = _pattern(column.pattern).search
            report.add(cells, column.name, Reason.PATTERN, [i for i, v in present if search(v) is None])
        if column.minimum is not None:
            low = column.minimum
            # Money is never negative; saying so is clearer than "below the minimum 0".
            money = column.unit == "yuan" and low == 0
            below = [i for i, v in present if float(v) < low]
            report.add(cells, column.name, Reason.NEGATIVE_AMOUNT if money else Reason.BELOW_MINIMUM, below)
        if column.maximum is not None:
            high = column.maximum
            report.add(cells, column.name, Reason.ABOVE_MAXIMUM, [i for i, v in present if float(v) > high])


def _rows(flags: Any) -> list[int]:
    return [i for i, flag in enumerate(flags) if flag]


def _check_codes(report: _Report, cells: _Cells, column: Column, present: list[tuple[int, str]]) -> None:
    assert column.codes is not None
    bad, combined = [], []
    for i, combination in present:
        tokens = combination.split(CODES_SEPARATOR)
        if any(t not in column.codes for t in tokens):
            bad.append(i)
        if len(tokens) > 1 and any(t in EXCLUSIVE_CODES for t in tokens):
            combined.append(i)
    report.add(cells, column.name, Reason.BAD_CODE, bad)
    report.add(cells, column.name, Reason.EXCLUSIVE_CODE_COMBINED, combined)


def _key_part(cells: _Cells, name: str) -> list[Any]:
    """A key column's cells as the columnar check compares them: dates by calendar day."""
    values = cells[name]
    if cells.table.column(name).kind == "date":
        return [None if v is None else v // _DAY_NS for v in values]
    return values


def _check_duplicate_keys(report: _Report, cells: _Cells) -> None:
    """Every row after the first with the same key; a key with an empty part is never a duplicate."""
    if not cells.n:
        return
    seen: set[tuple[Any, ...]] = set()
    later = []
    for i, key in enumerate(zip(*(_key_part(cells, name) for name in cells.table.key), strict=True)):
        if None in key:
            continue
        if key in seen:
            later.append(i)
        seen.add(key)
    report.add(cells, ",".join(cells.table.key), Reason.DUPLICATE_KEY, later)


def _check_references(report: _Report, cells: _Cells, tables: dict[str, _Cells]) -> None:
    if not cells.n:
        return
    for column in cells.table.columns:
        if column.references is None:
            continue
        target_table, target_column = column.references.split(".")
        target = tables.get(target_table)
        known = set(target[target_column]) if target is not None else set()
        orphans = [i for i, v in enumerate(cells[column.name]) if v is not None and v not in known]
        report.add(cells, column.name, Reason.ORPHAN_REFERENCE, orphans)


def _future_dates(report: _Report, tables: dict[str, _Cells], limit: int) -> None:
    for cells in tables.values():
        for column in cells.table.columns:
            if column.kind != "date" or (cells.name, column.name) in FUTURE_ALLOWED:
                continue
            future = [i for i, v in enumerate(cells[column.name]) if v is not None and v > limit]
            report.add(cells, column.name, Reason.FUTURE_DATE, future)


def _member_links(report: _Report, tables: dict[str, _Cells]) -> None:
    """Dates before the member's birth, and members attached to a household they do not belong to."""
    members = tables.get("members")
    if members is None:
        return  # every member_id is then an orphan, reported as such
    first: dict[str, int] = {}  # member id → its first row among the members
    for i, member_id in enumerate(members["member_id"]):
        if member_id is not None:
            first.setdefault(member_id, i)
    births, households = members["birth_date"], members["household_id"]
    for name, column in MEMBER_DATES:
        cells = tables.get(name)
        if cells is None:
            continue
        before, other = [], []
        own_households = cells["household_id"] if name != "member_status" else None
        for i, (member_id, when) in enumerate(zip(cells["member_id"], cells[column], strict=True)):
            position = first.get(member_id) if member_id is not None else None
            if position is None:
                continue  # unknown members are orphans
            birth = births[position]
            if when is not None and birth is not None and when < birth:
                before.append(i)
            if own_households is not None:
                own, given = households[position], own_households[i]
                if own is not None and given is not None and own != given:
                    other.append(i)
        report.add(cells, column, Reason.BEFORE_BIRTH, before)
        if own_households is not None:
            report.add(cells, "member_id", Reason.MEMBER_OF_OTHER_HOUSEHOLD, other)


def _events(report: _Report, tables: dict[str, _Cells]) -> None:
    events = tables.get("events")
    if events is None:
        return
    event_type = events["event_type"]
    for kind, columns in REQUIRED_BY_EVENT_TYPE.items():
        for column in columns:
            missing = [i for i in range(events.n) if event_type[i] == kind and events.absent(column, i)]
            report.add(events, column, Reason.REQUIRED_FOR_EVENT_TYPE, missing)
    exceeds = _rows(
        _less(total, oop) for oop, total in zip(events["oop_cost_yuan"], events["total_cost_yuan"], strict=True)
    )
    report.add(events, "oop_cost_yuan", Reason.OOP_EXCEEDS_TOTAL, exceeds)


def _less(a: Any, b: Any) -> bool:
    """a < b, false where either is missing (as NaN, NaT and NA compare in the columnar checks)."""
    return a is not None and b is not None and a < b


def _households(report: _Report, tables: dict[str, _Cells]) -> None:
    """Registration and exit years exist only for households that were registered poor (建档立卡)."""
    households = tables.get("households")
    if households is None:
        return
    general = [t == "general" for t in households["household_type"]]
    for column in ("registration_year", "exit_year"):
        only = _rows(g and v is not None for g, v in zip(general, households[column], strict=True))
        report.add(households, column, Reason.ONLY_FOR_POVERTY_ALLEVIATED, only)
    years = zip(households["exit_year"], households["registration_year"], strict=True)
    report.add(households, "exit_year", Reason.EXIT_BEFORE_REGISTRATION, _rows(_less(e, r) for e, r in years))


def _assistance(report: _Report, tables: dict[str, _Cells]) -> None:
    for name in SPELL_TABLES:
        spells = tables.get(name)
        if spells is not None:
            pairs = zip(spells["end_date"], spells["start_date"], strict=True)
            report.add(spells, "end_date", Reason.END_BEFORE_START, _rows(_less(end, start) for end, start in pairs))


def _identifications(report: _Report, tables: dict[str, _Cells]) -> None:
    found = tables.get("identifications")
    if found is None:
        return
    eliminated, identified = found["elimination_date"], found["identified_date"]
    before = _rows(_less(e, i) for e, i in zip(eliminated, identified, strict=True))
    report.add(found, "elimination_date", Reason.ELIMINATION_BEFORE_IDENTIFICATION, before)
    # Elimination is one decision: it has a date and a way, or neither (中农组发〔2021〕7号).
    way = found["elimination_way"]
    no_date = [i for i in range(found.n) if way[i] is not None and found.absent("elimination_date", i)]
    no_way = [i for i in range(found.n) if eliminated[i] is not None and found.absent("elimination_way", i)]
    report.add(found, "elimination_date", Reason.MISSING_ELIMINATION_DATE, no_date)
    report.add(found, "elimination_way", Reason.MISSING_ELIMINATION_WAY, no_way)


def _id_numbers(report: _Report, tables: dict[str, _Cells]) -> None:
    members = tables.get("members")
    if members is None:
        return
    bad = _rows(v is not None and _bad_check_character(v) for v in members["id_number"])
    report.add(members, "id_number", Reason.ID_CHECKSUM, bad)


def _bad_check_character(id_number: str) -> bool:
    """A well-formed ID (malformed ones fail the column's pattern) whose check character is wrong (GB 11643)."""
    if _ID_NUMBER.match(id_number) is None:
        return False
    return id_number[17] != id_check_character(id_number[:17])
