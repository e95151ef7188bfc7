from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from features.reading.sources import Sources, write_sources
from features.validation.report import WITHHELD, Reason, Violation, validate_sources
from relapse import data_commands
from tests.factories import make_sources, scale_sources

TODAY = date(2026, 1, 1)


def _validate(sources: Sources, **kwargs: object) -> list[tuple[str, str, str, str]]:
    report = validate_sources(sources, today=TODAY, **kwargs)  # type: ignore[arg-type]
    return [(v.table, v.row_key, v.column, v.reason) for v in report.violations]


def _set(table: str, position: int, column: str, value: object) -> Sources:
    sources = make_sources()
    frame = sources.tables[table]
    frame[column] = frame[column].astype(object)
    current = frame.loc[position, column]
    frame.loc[position, column] = value(current) if callable(value) else value
    return sources


def _wrong_check_character(id_number: str) -> str:
    return id_number[:17] + ("1" if id_number[17] != "1" else "2")


# (table, row position, column, injected value) → (row key, reported column, reason)
SINGLE_CELL_FAULTS = [
    ("income", 0, "wage_migrant_yuan", "abc", "H000001/2022", "wage_migrant_yuan", Reason.WRONG_TYPE),
    ("members", 1, "birth_date", "1990-13-45", "M000002", "birth_date", Reason.WRONG_TYPE),
    ("water_checks", 2, "quality_ok", "maybe", "H000003/2023-05-02", "quality_ok", Reason.WRONG_TYPE),
    ("member_status", 0, "survey_year", "2022.5", "M000001/?", "survey_year", Reason.WRONG_TYPE),
    ("members", 2, "gender", "unknown", "M000003", "gender", Reason.BAD_CODE),
    ("member_status", 0, "health", "chronic|flu", "M000001/2022", "health", Reason.BAD_CODE),
    (
        "member_status",
        1,
        "health",
        "healthy|chronic",
        "M000001/2023",
        "health",
        Reason.EXCLUSIVE_CODE_COMBINED,
    ),
    ("households", 0, "household_type", None, "H000001", "household_type", Reason.MISSING_REQUIRED),
    ("income", 0, "members_count", None, "H000001/2022", "members_count", Reason.MISSING_REQUIRED),
    ("villages", 0, "township_code", "1234", "610602100201", "township_code", Reason.PATTERN),
    ("members", 0, "id_number", "61060219", "M000001", "id_number", Reason.PATTERN),
    (
        "member_status",
        2,
        "migrant_work_months",
        -1,
        "M000002/2022",
        "migrant_work_months",
        Reason.BELOW_MINIMUM,
    ),
    (
        "member_status",
        2,
        "migrant_work_months",
        13,
        "M000002/2022",
        "migrant_work_months",
        Reason.ABOVE_MAXIMUM,
    ),
    ("income", 1, "transfer_dibao_yuan", -5.0, "H000001/2023", "transfer_dibao_yuan", Reason.NEGATIVE_AMOUNT),
    ("households", 1, "region_code", "610602100299", "H000002", "region_code", Reason.ORPHAN_REFERENCE),
    ("member_status", 3, "member_id", "M999999", "M999999/2023", "member_id", Reason.ORPHAN_REFERENCE),
    ("events", 4, "member_id", "M000001", "E5", "member_id", Reason.MEMBER_OF_OTHER_HOUSEHOLD),
    ("events", 4, "event_date", "2100-01-01", "E5", "event_date", Reason.FUTURE_DATE),
    ("events", 4, "event_date", "1900-01-02", "E5", "event_date", Reason.BEFORE_BIRTH),
    ("member_status", 4, "recorded_date", "1901-06-01", "M000003/2022", "recorded_date", Reason.BEFORE_BIRTH),
    ("assistance", 0, "end_date", "2023-03-01", "A1", "end_date", Reason.END_BEFORE_START),
    (
        "identifications",
        0,
        "elimination_date",
        "2023-01-01",
        "I1",
        "elimination_date",
        Reason.ELIMINATION_BEFORE_IDENTIFICATION,
    ),
    ("identifications", 0, "elimination_way", None, "I1", "elimination_way", Reason.MISSING_ELIMINATION_WAY),
    (
        "identifications",
        0,
        "elimination_date",
        None,
        "I1",
        "elimination_date",
        Reason.MISSING_ELIMINATION_DATE,
    ),
    ("events", 0, "oop_cost_yuan", None, "E1", "oop_cost_yuan", Reason.REQUIRED_FOR_EVENT_TYPE),
    ("events", 0, "total_cost_yuan", None, "E1", "total_cost_yuan", Reason.REQUIRED_FOR_EVENT_TYPE),
    ("events", 1, "disability_grade", None, "E2", "disability_grade", Reason.REQUIRED_FOR_EVENT_TYPE),
    ("events", 2, "disaster_type", None, "E3", "disaster_type", Reason.REQUIRED_FOR_EVENT_TYPE),
    ("events", 2, "loss_yuan", None, "E3", "loss_yuan", Reason.REQUIRED_FOR_EVENT_TYPE),
    ("events", 3, "amount_yuan", None, "E4", "amount_yuan", Reason.REQUIRED_FOR_EVENT_TYPE),
    ("events", 0, "oop_cost_yuan", 20_000.0, "E1", "oop_cost_yuan", Reason.OOP_EXCEEDS_TOTAL),
    (
        "households",
        1,
        "registration_year",
        2015,
        "H000002",
        "registration_year",
        Reason.ONLY_FOR_POVERTY_ALLEVIATED,
    ),
    ("households", 0, "registration_year", 2019, "H000001", "exit_year", Reason.EXIT_BEFORE_REGISTRATION),
    ("members", 0, "id_number", _wrong_check_character, "M000001", "id_number", Reason.ID_CHECKSUM),
    (
        "civil_affairs",
        0,
        "end_date",
        "2023-05-31",
        "H000001/rigid_expenditure/2023-06-01",
        "end_date",
        Reason.END_BEFORE_START,
    ),
    ("civil_affairs", 1, "category", "poor", "H000006/poor/2022-01-01", "category", Reason.BAD_CODE),
    ("civil_affairs", 1, "start_date", None, "H000006/dibao/?", "start_date", Reason.MISSING_REQUIRED),
    (
        "civil_affairs",
        1,
        "household_id",
        "H999999",
        "H999999/dibao/2022-01-01",
        "household_id",
        Reason.ORPHAN_REFERENCE,
    ),
    (
        "civil_affairs",
        1,
        "start_date",
        "2100-01-01",
        "H000006/dibao/2100-01-01",
        "start_date",
        Reason.FUTURE_DATE,
    ),
]


def test_factory_sources_are_valid(sources: Sources) -> None:
    report = validate_sources(sources, today=TODAY)
    assert report.ok, str(report)
    assert report.violations == []
    assert set(report.rows) == set(sources.tables) and all(report.rows.values())


def test_missing_values_in_nullable_columns_are_valid(sources: Sources) -> None:
    status = sources.tables["member_status"]
    for column in ("health", "labour_skill", "schooling_stage", "migrant_work_months", "disability_grade"):
        status[column] = None
    members = sources.tables["members"]
    for column in ("education", "gender", "ethnicity", "id_number"):
        members[column] = None
    sources.tables["income"]["wage_migrant_yuan"] = np.nan
    assert validate_sources(sources, today=TODAY).ok


@pytest.mark.parametrize(
    ("table", "position", "column", "value", "row_key", "reported_column", "reason"),
    SINGLE_CELL_FAULTS,
    ids=[f"{c[0]}.{c[2]}-{c[6].value}" for c in SINGLE_CELL_FAULTS],
)
def test_each_fault_is_reported_exactly_once(
    table: str,
    position: int,
    column: str,
    value: object | Callable[[object], object],
    row_key: str,
    reported_column: str,
    reason: Reason,
) -> None:
    report = validate_sources(_set(table, position, column, value), today=TODAY)
    assert [(v.table, v.row_key, v.column, v.reason, v.row) for v in report.violations] == [
        (table, row_key, reported_column, reason.value, position + 1)
    ]
    assert report.counts == {(table, reported_column, reason.value): 1}
    assert not report.ok


def test_wrong_type_reports_the_raw_text() -> None:
    report = validate_sources(
        _set(
            "income",
            0,
            "wage_migrant_yuan",
            "12x",
        ),
        today=TODAY,
    )
    assert report.violations[0].value == "12x"


def test_id_numbers_are_never_echoed() -> None:
    sources = _set("members", 0, "id_number", _wrong_check_character)
    report = validate_sources(sources, today=TODAY)
    assert report.violations[0].value == WITHHELD
    assert sources.tables["members"]["id_number"][0] not in str(report) + repr(report.violations)


def test_duplicate_key_names_the_later_row() -> None:
    sources = make_sources()
    status = sources.tables["member_status"]
    sources.tables["member_status"] = pd.concat([status, status.iloc[[5]]], ignore_index=True)
    assert [
        (v.table, v.row_key, v.column, v.reason, v.row) for v in validate_sources(sources, today=TODAY).violations
    ] == [("member_status", "M000003/2023", "member_id,survey_year", "duplicate_key", len(status) + 1)]


def test_missing_required_column_is_one_table_level_violation() -> None:
    sources = make_sources()
    sources.tables["households"] = sources.tables["households"].drop(columns=["household_type"])
    assert validate_sources(sources, today=TODAY).violations == [
        Violation("households", "", "household_type", "missing_column", None, None)
    ]


def test_every_violation_is_reported_at_once() -> None:
    sources = _set("members", 2, "gender", "unknown")
    sources.tables["income"].loc[0, "transfer_dibao_yuan"] = -1.0
    sources.tables["events"].loc[0, "oop_cost_yuan"] = 99_999.0
    reasons = {v.reason for v in validate_sources(sources, today=TODAY).violations}
    assert reasons == {"bad_code", "negative_amount", "oop_exceeds_total"}


def test_stored_violations_are_capped_but_all_are_counted() -> None:
    sources = make_sources()
    sources.tables["member_status"]["migrant_work_months"] = 20
    report = validate_sources(sources, max_per_kind=5, today=TODAY)
    rows = len(sources.tables["member_status"])
    assert report.counts == {("member_status", "migrant_work_months", "above_maximum"): rows}
    assert [v.row for v in report.violations] == [1, 2, 3, 4, 5]
    assert report.summary().to_dict("records") == [
        {"table": "member_status", "column": "migrant_work_months", "reason": "above_maximum", "count": rows}
    ]


def test_future_dates_are_judged_against_today() -> None:
    sources = _set("events", 4, "event_date", "2025-06-01")
    assert validate_sources(sources, today=date(2026, 1, 1)).ok
    assert not validate_sources(sources, today=date(2025, 5, 31)).ok


def test_planned_end_of_assistance_may_be_in_the_future() -> None:
    assert validate_sources(_set("assistance", 0, "end_date", "2027-12-31"), today=TODAY).ok


def test_chinese_labels_validate_as_codes() -> None:
    sources = _set("households", 0, "household_type", "脱贫户")
    sources.tables["members"]["gender"] = sources.tables["members"]["gender"].map({"male": "男", "female": "女"})
    sources.tables["member_status"]["health"] = sources.tables["member_status"]["health"].replace(
        {"chronic|disabled": "长期慢性病、残疾", "healthy": "健康"}
    )
    assert validate_sources(sources, today=TODAY).ok


def test_validates_a_csv_folder_with_row_numbers(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    write_sources(make_sources(), folder, "csv")
    path = folder / "members.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",male,", ",robot,")  # CSV line 4 = data row 3
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = validate_sources(folder, today=TODAY)
    assert [(v.row_key, v.row, v.column, v.reason, v.value) for v in report.violations] == [
        ("M000003", 3, "gender", "bad_code", "robot")
    ]


def test_a_large_folder_validates_and_its_violations_are_found(tmp_path: Path) -> None:
    # The time it takes is measured by benchmarks/validation_bench.py (against reading the same folder).
    big = scale_sources(make_sources(), copies=500, years=3)  # 3,000 households
    write_sources(big, tmp_path / "big")
    report = validate_sources(tmp_path / "big", today=TODAY)
    assert report.ok, str(report)
    assert sum(report.rows.values()) == sum(len(frame) for frame in big.tables.values())

    status, members = big.tables["member_status"], big.tables["members"]
    status.loc[status.index[-3:], "migrant_work_months"] = 20
    members["gender"] = members["gender"].astype(object)
    members.loc[members.index[-1], "gender"] = "robot"
    write_sources(big, tmp_path / "faulty")
    report = validate_sources(tmp_path / "faulty", max_per_kind=2, today=TODAY)
    assert report.counts == {
        ("members", "gender", "bad_code"): 1,
        ("member_status", "migrant_work_months", "above_maximum"): 3,
    }

    def status_key(position: int) -> str:
        return f"{status['member_id'].iloc[position]}/{status['survey_year'].iloc[position]}"

    stored = [(v.table, v.row_key, v.row, v.column, v.reason) for v in report.violations]
    assert stored == [  # 1-based rows; two of the three above_maximum are stored (max_per_kind=2)
        ("members", members["member_id"].iloc[-1], len(members), "gender", "bad_code"),
        ("member_status", status_key(-3), len(status) - 2, "migrant_work_months", "above_maximum"),
        ("member_status", status_key(-2), len(status) - 1, "migrant_work_months", "above_maximum"),
    ]


def _cli() -> typer.Typer:
    app = typer.Typer()
    data_commands.register(app)
    return app


def test_validate_command_exit_codes(tmp_path: Path) -> None:
    write_sources(make_sources(), tmp_path / "ok", "csv")
    result = CliRunner().invoke(_cli(), ["validate", str(tmp_path / "ok")])
    assert result.exit_code == 0, result.output
    assert "11 tables, 97 rows valid" in result.output

    write_sources(_set("members", 2, "gender", "[bold]robot"), tmp_path / "bad", "csv")
    result = CliRunner().invoke(_cli(), ["validate", str(tmp_path / "bad"), "--max-per-kind", "3"])
    assert result.exit_code == 1
    assert "M000003" in result.output and "bad_code" in result.output and "[bold]robot" in result.output


def test_duplicate_single_column_key() -> None:
    sources = make_sources()
    events = sources.tables["events"]
    sources.tables["events"] = pd.concat([events, events.iloc[[0]]], ignore_index=True)
    found = [(v.table, v.row_key, v.column, v.reason, v.row) for v in validate_sources(sources, today=TODAY).violations]
    assert found == [("events", "E1", "event_id", "duplicate_key", len(events) + 1)]


@pytest.mark.benchmark
def test_validation_benchmark_runs_and_reports_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.validation_bench import main

    main(["--households", "300", "--repeats", "1", "--document-repeats", "3"])
    out = capsys.readouterr().out
    assert "report: valid" in out
    assert "ratio validate / read" in out
    assert out.count("ratio columns / rows") == 2  # one document, and copies of it up to the row path's limit


def test_a_folder_without_the_civil_affairs_table_still_validates(tmp_path: Path) -> None:
    sources = make_sources()
    del sources.tables["civil_affairs"]
    write_sources(sources, tmp_path / "older", "csv")
    assert not (tmp_path / "older" / "civil_affairs.csv").exists()
    report = validate_sources(tmp_path / "older", today=TODAY)
    assert report.ok, str(report)
    assert "civil_affairs" not in report.rows or report.rows["civil_affairs"] == 0
