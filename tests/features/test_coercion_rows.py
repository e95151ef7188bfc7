"""Coercing a few JSON rows cell by cell (`coerce_rows`) gives what the frame path gives, or declines.

The reference is `coerce_table(pd.DataFrame(rows), table)`, the path every source table takes. Rows are drawn
with the cells a JSON document brings, right and wrong: codes and their labels, padded text, numbers as text,
fractions in integer columns, impossible dates, dates before 1900, booleans in number columns, absent keys,
and columns outside the contract.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract.tables import TABLES, Column
from features.reading._coercion import CoercedTable, coerce_table
from features.reading._coercion_rows import coerce_rows

_TEXT = st.sampled_from(["a", "甲乙", " a", "a\u3000", "", "  ", "Ab-1", "1", "2.5", "是", "yes", "x"])
_ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
)
_DATES = st.sampled_from(
    ["2020-01-05", "1999-12-31", "2024-02-29", "2023-02-29", "1899-12-31", "1900-01-01", "2200-12-31"]
    + ["2201-01-01", "2020/01/05", "20200105", " 2020-01-05", "2020-1-5", "2020年01月05日", "soon", ""]
)


def _plain(column: Column) -> st.SearchStrategy[Any]:
    """Cells of the column's own kind, as JSON brings them (the path taken for these)."""
    kind = column.kind
    if kind in ("code", "codes"):
        assert column.codes is not None
        codes = list(column.codes)
        labels = [label for pair in column.codes.values() for label in pair]
        single = st.sampled_from(codes + labels + ["unknown"])
        if kind == "codes":
            return st.one_of(st.none(), single, st.lists(single, max_size=3).map("、".join))
        return st.one_of(st.none(), single)
    if kind == "str":
        return st.one_of(st.none(), _TEXT, st.from_regex(r"[0-9]{17}[0-9xX]", fullmatch=True))
    if kind == "bool":
        return st.one_of(st.none(), st.booleans())
    if kind in ("int", "float"):
        return st.one_of(st.none(), st.integers(-(2**40), 2**40), st.floats(-1e12, 1e12), st.sampled_from([2.0, 0.5]))
    assert kind == "date"
    days = st.dates(date(1900, 1, 1), date(2200, 12, 31))  # outside: typos the frame path reports
    return st.one_of(st.none(), days.map(lambda d: d.isoformat()))


def _cell(column: Column, plain: bool) -> st.SearchStrategy[Any]:
    if plain:
        return _plain(column)
    return st.one_of(_plain(column), _ODD, _DATES if column.kind == "date" else _ODD)


@st.composite
def _rows(draw: st.DrawFn, plain: bool) -> tuple[str, list[dict[str, Any]]]:
    table = TABLES[draw(st.sampled_from(list(TABLES)))]
    extras = ["name", "person_pseudonym", "unknown_column"]
    names = draw(st.lists(st.sampled_from([*table.column_names, *extras]), unique=True, max_size=8))
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        row: dict[str, Any] = {}
        for name in names:
            if draw(st.integers(0, 5)) == 0:
                continue  # an absent key: missing in this row only
            if name in table.column_names:
                row[name] = draw(_cell(table.column(name), plain))
            else:
                row[name] = draw(st.one_of(st.none(), _TEXT) if plain else _ODD)
        rows.append(row)
    return table.name, rows


def _assert_same(got: CoercedTable, expected: CoercedTable) -> None:
    pd.testing.assert_frame_equal(got.frame, expected.frame, check_exact=True)
    assert got.unparsed.keys() == expected.unparsed.keys()
    for name, raw in expected.unparsed.items():
        pd.testing.assert_series_equal(got.unparsed[name], raw, check_exact=True)
    assert got.missing_columns == expected.missing_columns
    assert got.dropped_columns == expected.dropped_columns


_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@_SETTINGS
@given(_rows(plain=True))
def test_plain_json_rows_are_coerced_as_the_frame_path_coerces_them(case: tuple[str, list[dict[str, Any]]]) -> None:
    table, rows = TABLES[case[0]], case[1]
    got = coerce_rows(rows, table)
    assert got is not None  # the path is taken for every plain document, not only declined
    _assert_same(got, coerce_table(pd.DataFrame(rows), table))


@pytest.mark.slow
@_SETTINGS
@given(_rows(plain=False))
def test_any_rows_are_coerced_as_the_frame_path_coerces_them_or_declined(
    case: tuple[str, list[dict[str, Any]]],
) -> None:
    table, rows = TABLES[case[0]], case[1]
    got = coerce_rows(rows, table)
    if got is not None:
        _assert_same(got, coerce_table(pd.DataFrame(rows), table))


def test_fractions_in_integer_columns_are_unparsed_cells_naming_their_rows() -> None:
    rows = [{"member_id": "m1", "survey_year": 2024}, {"member_id": "m2", "survey_year": 2024.5}]
    got = coerce_rows(rows, TABLES["member_status"])
    assert got is not None
    assert got.frame["survey_year"].tolist() == [2024, pd.NA]
    assert got.unparsed["survey_year"].to_dict() == {1: "2024.5"}


@pytest.mark.parametrize(
    ("column", "cell"),
    [("birth_date", "2023-02-29"), ("birth_date", "1899-12-31"), ("birth_date", "2020/01/05"), ("gender", 1)],
)
def test_cells_it_does_not_judge_send_the_table_to_the_frame_path(column: str, cell: object) -> None:
    assert coerce_rows([{"member_id": "m1", column: cell}], TABLES["members"]) is None


def test_more_rows_than_a_household_has_take_the_frame_path() -> None:
    rows = [{"household_id": f"h{i}"} for i in range(65)]
    assert coerce_rows(rows, TABLES["households"]) is None
    assert coerce_rows([], TABLES["households"]) is None
