"""Validating cell by cell (`features.validation._rows`) reports exactly what the columnar checks report.

The reference is `validate_sources(..., method="columns")`, the path every large folder takes. Sources are small
valid cities (`tests/factories.py`, `tests/tiny_city.py`) with faults injected: wrong codes and code combinations,
bad formats (also Unicode digits, which Arrow's RE2 does not take for `\\d`), negative money, values out of range,
unreadable cells (text in number, flag and date columns), duplicated rows with and without their key, orphans,
future dates, dates before birth, members of another household, events without their details, out-of-pocket
above total, years for general households, ends before starts, half-recorded eliminations, wrong ID check
characters, missing columns and tables — and the report must be equal field for field, capping included.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from features.contract.tables import TABLES, Column
from features.reading.sources import Sources, coerce_records, coerce_sources
from features.validation._rows import _pattern, check_rows
from features.validation.report import ValidationReport, validate_sources
from tests.factories import make_id_number, make_sources
from tests.features.test_validation import SINGLE_CELL_FAULTS, TODAY, _set
from tests.tiny_city import tiny_sources

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "household.json"


def assert_same_report(sources: Sources, *, today: date = TODAY, max_per_kind: int = 1_000) -> ValidationReport:
    """Both paths' reports on the same sources, field by field (the first difference named); the report."""
    typed = coerce_sources(sources)
    columns = validate_sources(typed, today=today, max_per_kind=max_per_kind, method="columns")
    rows = validate_sources(typed, today=today, max_per_kind=max_per_kind, method="rows")
    assert rows.violations == columns.violations
    assert rows.counts == columns.counts
    assert rows.rows == columns.rows
    assert rows.warnings == columns.warnings
    assert rows == columns
    return columns


# --- hand-written cases ---------------------------------------------------------------------------------------


def test_valid_cities_are_valid_both_ways() -> None:
    for sources in (make_sources(), make_sources(seed=3, households=2), tiny_sources()):
        assert assert_same_report(sources).ok


@pytest.mark.parametrize(
    ("table", "position", "column", "value"),
    [fault[:4] for fault in SINGLE_CELL_FAULTS],
    ids=[f"{c[0]}.{c[2]}-{c[6].value}" for c in SINGLE_CELL_FAULTS],
)
def test_each_single_fault_is_reported_the_same_way(
    table: str, position: int, column: str, value: object | Callable[[object], object]
) -> None:
    report = assert_same_report(_set(table, position, column, value))
    assert not report.ok


def test_capped_examples_are_the_same_rows() -> None:
    sources = make_sources()
    status = sources.tables["member_status"]
    status["migrant_work_months"] = 20
    status["health"] = "healthy|flu"
    sources.tables["members"]["id_number"] = "610602195001010000"  # wrong check character, one per member
    sources.tables["member_status"] = pd.concat([status, status.iloc[[3, 4, 5]]], ignore_index=True)
    for max_per_kind in (0, 1, 2, 5):
        report = assert_same_report(sources, max_per_kind=max_per_kind)
        assert len(report.violations) <= max_per_kind * len(report.counts)


def test_missing_columns_and_tables_are_reported_the_same_way() -> None:
    sources = make_sources()
    sources.tables["households"] = sources.tables["households"].drop(columns=["household_type", "exit_year"])
    sources.tables["events"] = sources.tables["events"].drop(columns=["event_date", "oop_cost_yuan"])
    sources.tables["identifications"] = sources.tables["identifications"].iloc[:0]
    del sources.tables["members"]
    report = assert_same_report(sources)
    missing_column, orphan = (
        ("households", "household_type", "missing_column"),
        ("events", "member_id", "orphan_reference"),
    )
    assert {missing_column, orphan} <= set(report.counts)


def test_the_example_document_and_its_faults_as_the_api_reads_them() -> None:
    """The API's tables come from JSON rows (`coerce_records`), not from frames."""
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))["households"][0]
    records: dict[str, list[dict[str, Any]]] = {
        "households": [document["household"]],
        "villages": [document["village"]],
    }
    for name in TABLES:
        if isinstance(document.get(name), list):
            records[name] = document[name]
    assert assert_same_report(coerce_records(records, {"origin": "api"})).ok

    faulty = json.loads(json.dumps(records))
    faulty["income"][0]["wage_migrant_yuan"] = "a lot"  # unparsed: reported as wrong type, shown as given
    faulty["members"][0]["birth_date"] = "2030-02-30"
    faulty["members"][1]["id_number"] = faulty["members"][1]["id_number"][:17] + "7"
    faulty["member_status"][0]["health"] = "健康、长期慢性病"
    faulty["member_status"].append(dict(faulty["member_status"][0], member_id="M-unknown"))
    faulty["households"][0]["household_type"] = "general"
    faulty["events"][0]["oop_cost_yuan"] = 1e9
    report = assert_same_report(coerce_records(faulty, {"origin": "api"}))
    assert {v.reason for v in report.violations} >= {
        "wrong_type",
        "id_checksum",
        "exclusive_code_combined",
        "orphan_reference",
        "only_for_poverty_alleviated",
        "oop_exceeds_total",
    }


def test_auto_judges_small_sources_by_rows_and_larger_ones_by_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from features.validation import report

    calls: list[int] = []

    def spy(sources: Sources, max_per_kind: int, today: date) -> Any:
        calls.append(1)
        return check_rows(sources, max_per_kind, today)

    monkeypatch.setattr(report, "check_rows", spy)
    sources = make_sources()  # 95 rows
    validate_sources(sources, today=TODAY)
    assert calls == [1]
    monkeypatch.setattr(report, "ROWWISE_MAX_ROWS", 94)
    validate_sources(sources, today=TODAY)
    assert calls == [1]


def test_rows_are_read_without_pandas_column_accessor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should pandas drop the private accessor the row path reads columns with, it reads Series instead."""
    monkeypatch.delattr(pd.DataFrame, "_get_column_array")
    assert_same_report(_set("events", 0, "oop_cost_yuan", 20_000.0))


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown validation method"):
        validate_sources(make_sources(), method="cells")  # type: ignore[arg-type]


_PATTERN_COLUMNS = [c for t in TABLES.values() for c in t.columns if c.pattern is not None]
# Characters on which the two regex engines could differ: Arabic-Indic, full-width and Bengali digits, a newline.
_TRICKY = "X x\n\u0661\uff11\u09e7a"


# Lengths a contract pattern matches (`\d{12}`: 12), and one more (`\d{17}[\dX]`: 18).
_PATTERN_LENGTHS = sorted(
    {int(n) + extra for c in _PATTERN_COLUMNS for n in re.findall(r"\{(\d+)\}", c.pattern or "") for extra in (0, 1)}
)


@st.composite
def _near_matches(draw: st.DrawFn) -> str:
    """ASCII digits of a contract pattern's length, one of them perhaps replaced, a character perhaps added (at
    the end, where Python's `$` would accept a newline, or anywhere)."""
    length = draw(st.sampled_from(_PATTERN_LENGTHS))
    text = list(draw(st.text(alphabet="0123456789", min_size=length, max_size=length)))
    if draw(st.booleans()):
        text[draw(st.integers(0, len(text) - 1))] = draw(st.sampled_from(_TRICKY))
    where = draw(st.sampled_from(["nowhere", "end", "anywhere"]))
    if where != "nowhere":
        position = len(text) if where == "end" else draw(st.integers(0, len(text)))
        text.insert(position, draw(st.sampled_from(_TRICKY)))
    return "".join(text)


_PATTERN_TEXT = st.one_of(st.text(alphabet="0123456789" + _TRICKY, max_size=20), _near_matches())


@pytest.mark.parametrize(
    "column",
    _PATTERN_COLUMNS,
    ids=lambda c: f"{c.name}:{c.pattern}",
)
@given(values=st.lists(_PATTERN_TEXT, min_size=1, max_size=20))
@settings(max_examples=100, deadline=None)
def test_each_contract_pattern_means_what_arrow_means(column: Column, values: list[str]) -> None:
    """Arrow's RE2 `\\d` is ASCII only and its `$` is the end of the text; Python's `re` needs telling."""
    assert column.pattern is not None
    search = _pattern(column.pattern).search
    expected = pc.match_substring_regex(pa.array(values), column.pattern).to_pylist()
    assert [search(v) is not None for v in values] == expected


# --- the property -------------------------------------------------------------------------------------------------

_BASES: dict[str, Callable[[], Sources]] = {
    "two households": lambda: make_sources(seed=11, households=2),
    "four households": lambda: make_sources(seed=5, households=4),
    "tiny city": tiny_sources,
}

_ID = make_id_number("610602", date(1950, 1, 1), 7)
_TEXT = [None, "", "  ", "x", "M999999", "H999999", "610602100201", "610602100202", "６１０６０２１００２０１"]
_TEXT += ["61060210020", "6106021002011", "610602100", "610602", "61", "6", "\u0661\u0662", "990101001001"]
_TEXT += [_ID, _ID[:17] + "X", _ID[:17] + "x", _ID[:17] + ("1" if _ID[17] != "1" else "2"), _ID[:17], _ID + "0"]
_POOLS: dict[str, list[Any]] = {
    "str": _TEXT,
    "code": [None, "robot", "", "男", "general", "poverty_alleviated", "hospital_stay", "disaster", "01"],
    "codes": [
        None,
        "healthy|chronic",
        "chronic|flu",
        "healthy",
        "长期慢性病、残疾",
        "健康|chronic",
        "chronic||disabled",
    ],
    "int": [None, -1, 0, 1, 4, 5, 12, 13, 366, 367, 2012, 2013, 2015, 2019, 2020, 2021, "abc", "2022.5", 2.5, "7"],
    "float": [None, -5.0, -0.0, 0.0, 100.0, 1e9, "abc", "1,234.5", float("nan"), float("inf"), "-3"],
    "bool": [None, True, False, "maybe", "是", "0", 2],
    "date": [
        None,
        "2100-01-01",
        "1900-01-02",
        "1901-06-01",
        "1899-12-31",
        "2023-03-01",
        "2025-06-01",
        "2026-01-02",
        "1990-13-45",
        "2023/05/01",
        "soon",
        pd.Timestamp("2023-05-01 13:30"),  # a time of day: still the same calendar day for keys
        pd.Timestamp("2026-01-01 08:00"),  # after midnight of `today`
    ],
}


def _wrong_check_character(id_number: object) -> object:
    if not isinstance(id_number, str) or len(id_number) != 18:
        return id_number
    return id_number[:17] + ("1" if id_number[17] != "1" else "2")


# Faults of the rules that relate cells, which random cells seldom break: (table, column, values to choose from,
# a function of the current value, or the table whose same column to take a value from).
_TARGETED: list[tuple[str, str, list[Any] | Callable[[Any], Any] | str]] = [
    ("events", "member_id", "members"),
    ("assistance", "member_id", "members"),
    ("member_status", "member_id", "members"),
    ("members", "birth_date", ["2023-06-01", "2024-02-01", "1900-01-01"]),
    ("members", "id_number", _wrong_check_character),
    ("households", "exit_year", [2013, 2014, 2020]),
    ("households", "household_type", ["general", "poverty_alleviated"]),
    ("events", "event_type", ["hospital_stay", "disaster", "disability_certificate", "insurance_payout"]),
    ("events", "oop_cost_yuan", [1e6, 0.0]),
    ("assistance", "end_date", ["2000-01-01", "2023-03-20"]),
    ("identifications", "elimination_date", ["2000-01-01", None, "2023-04-01"]),
    ("identifications", "elimination_way", [None, "assisted"]),
    ("member_status", "health", ["healthy|chronic", "healthy|flu"]),
]


def _set_cell(frame: pd.DataFrame, row: int, column: str, value: Any) -> None:
    """Set one cell; a typed column becomes loose (object) unless the value fits it, as a raw file's would."""
    if column not in frame.columns:
        frame[column] = None
    if not (isinstance(value, pd.Timestamp) and pd.api.types.is_datetime64_any_dtype(frame[column].dtype)):
        frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value


def _borrowed(draw: st.DrawFn, tables: dict[str, pd.DataFrame], table: str, column: Column) -> Any:
    """A value of the same column in another row, or of the column it refers to: duplicates, other households."""
    if column.references is not None and draw(st.booleans()):
        target_table, target_column = column.references.split(".")
        frame = tables.get(target_table)
    else:
        frame, target_column = tables[table], column.name
    if frame is None or not len(frame) or target_column not in frame.columns:
        return None
    return frame[target_column].iloc[draw(st.integers(0, len(frame) - 1))]


@st.composite
def _faulty_sources(draw: st.DrawFn) -> Sources:
    sources = _BASES[draw(st.sampled_from(list(_BASES)))]()
    tables = sources.tables
    for _ in range(draw(st.integers(0, 8))):
        names = [name for name, frame in tables.items() if len(frame)]
        if not names:
            break
        name = draw(st.sampled_from(names))
        frame, contract = tables[name], TABLES[name]
        targeted = [target for target in _TARGETED if target[0] == name and target[1] in frame.columns]
        faults = ["cell", "cell", "borrow", "borrow", "duplicate", "drop", "empty"] + ["rule"] * 3 * bool(targeted)
        fault = draw(st.sampled_from(faults))
        event(f"fault: {fault}")
        row = draw(st.integers(0, len(frame) - 1))
        if fault == "rule":
            _, column_name, values = draw(st.sampled_from(targeted))
            if isinstance(values, str):
                other = tables.get(values)
                values = [None] if other is None or column_name not in other.columns else list(other[column_name])
            if callable(values):
                value = values(frame[column_name].iloc[row])
            else:
                value = draw(st.sampled_from(values)) if values else None
            _set_cell(frame, row, column_name, value)
        elif fault in ("cell", "borrow"):
            column = contract.column(draw(st.sampled_from(contract.column_names)))
            if fault == "cell":
                value = draw(st.sampled_from(_POOLS[column.kind]))
            else:
                value = _borrowed(draw, tables, name, column)
            _set_cell(frame, row, column.name, value)
        elif fault == "duplicate":
            copy = frame.iloc[[row]].copy()
            if draw(st.booleans()):  # a row without part of its key is not a duplicate, only incomplete
                copy[draw(st.sampled_from(contract.key))] = None
            tables[name] = pd.concat([frame, copy], ignore_index=True)
        elif fault == "drop":
            kept = [c for c in contract.column_names if c in frame.columns]
            if kept:
                tables[name] = frame.drop(columns=[draw(st.sampled_from(kept))])
        elif draw(st.booleans()):
            tables[name] = frame.iloc[:0]
        else:
            del tables[name]
    return sources


@pytest.mark.slow
@given(
    sources=_faulty_sources(),
    today=st.sampled_from([TODAY, date(2023, 8, 1), date(2024, 1, 1)]),
    max_per_kind=st.sampled_from([1, 2, 1_000]),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_rows_and_columns_report_the_same_violations(sources: Sources, today: date, max_per_kind: int) -> None:
    report = assert_same_report(sources, today=today, max_per_kind=max_per_kind)
    for _, _, reason in report.counts:
        event(f"reason: {reason}")
