from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract.dtypes import pandas_dtype
from features.contract.tables import TABLES
from features.errors import SourceFolderError
from features.reading.sources import (
    Sources,
    SourceWriter,
    coerce_sources,
    empty_frame,
    read_sources,
    write_sources,
)
from tests.factories import make_sources


def _assert_same_tables(left: Sources, right: Sources) -> None:
    assert set(left.tables) == set(right.tables)
    for name in left.tables:
        pd.testing.assert_frame_equal(left.tables[name], right.tables[name], check_like=False, obj=name)


def test_read_sources_has_contract_dtypes(source_dir: Path) -> None:
    sources = read_sources(source_dir)
    for name, table in TABLES.items():
        frame = sources[name]
        for column in table.columns:
            assert str(frame[column.name].dtype) == pandas_dtype(column), (name, column.name)
    assert sources.synthetic


def test_round_trip_parquet_csv_parquet_is_lossless(tmp_path: Path, sources: Sources) -> None:
    typed = coerce_sources(sources)
    write_sources(typed, tmp_path / "parquet", "parquet")
    from_parquet = read_sources(tmp_path / "parquet")
    write_sources(from_parquet, tmp_path / "csv", "csv")
    from_csv = read_sources(tmp_path / "csv")
    write_sources(from_csv, tmp_path / "parquet-again", "parquet")
    _assert_same_tables(typed, from_parquet)
    _assert_same_tables(from_parquet, from_csv)
    _assert_same_tables(from_csv, read_sources(tmp_path / "parquet-again"))
    assert from_csv.manifest["synthetic"] is True


def test_round_trip_keeps_awkward_values(tmp_path: Path) -> None:
    sources = make_sources()
    villages = sources.tables["villages"]
    villages.loc[0, "village_name"] = '枣园村, "东"组'  # comma and quotes need CSV quoting
    villages.loc[1, "collective_income_yuan"] = 0.1 + 0.2  # needs all 17 significant digits
    typed = coerce_sources(sources)
    write_sources(typed, tmp_path / "csv", "csv")
    _assert_same_tables(typed, read_sources(tmp_path / "csv"))


def _write_csv(folder: Path, table: str, text: str, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{table}.csv").write_bytes(text.encode(encoding))
    return folder


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_labels_booleans_and_empty_cells(tmp_path: Path, encoding: str) -> None:
    text = (
        "household_id,region_code,household_type,registration_year,exit_year,relocated,land_area_mu,extra\n"
        "H1,610602100201,脱贫户,2015,2018,是,3.5,x\n"
        "H2, 610602100202 ,一般农户,,,否,,y\n"
        'H3,610602100201,general,,,1,"1,234.5",z\n'
        "H4,610602100201,poverty_alleviated,2016.0,2019,TRUE,0,\n"
    )
    sources = read_sources(_write_csv(tmp_path, "households", text, encoding))
    frame = sources["households"]
    assert frame["household_type"].tolist() == [
        "poverty_alleviated",
        "general",
        "general",
        "poverty_alleviated",
    ]
    assert frame["region_code"][1] == "610602100202"  # surrounding spaces trimmed
    assert frame["relocated"].tolist() == [True, False, True, True]
    assert frame["registration_year"].tolist() == [2015, pd.NA, pd.NA, 2016]
    np.testing.assert_array_equal(frame["land_area_mu"].to_numpy(), [3.5, np.nan, 1234.5, 0.0])
    assert "extra" not in frame.columns
    assert sources.warnings == ["households: dropped columns not in the contract: extra"]
    assert sources.unparsed == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("长期慢性病|残疾", "chronic|disabled"),
        ("残疾、长期慢性病", "chronic|disabled"),  # another separator, code-list order
        ("健康", "healthy"),
        ("chronic|serious", "chronic|serious"),
        ("chronic|流感", "chronic|流感"),  # unknown token kept for validation to report
    ],
)
def test_health_combinations_accept_labels(raw: str, expected: str) -> None:
    sources = make_sources()
    sources.tables["member_status"].loc[0, "health"] = raw
    assert coerce_sources(sources)["member_status"]["health"][0] == expected


def test_unparseable_cells_become_missing_and_are_remembered(tmp_path: Path) -> None:
    text = "household_id,income_year,recorded_date,members_count,wage_migrant_yuan\nH1,2021,2022/01/05,三,12x\n"
    sources = read_sources(_write_csv(tmp_path, "income", text))
    frame = sources["income"]
    assert frame["recorded_date"][0] == pd.Timestamp("2022-01-05")
    assert frame["members_count"].isna().all() and np.isnan(frame["wage_migrant_yuan"][0])
    assert {k: v.tolist() for k, v in sources.unparsed.items()} == {
        ("income", "members_count"): ["三"],
        ("income", "wage_migrant_yuan"): ["12x"],
    }


def test_absent_tables_read_as_empty_frames(tmp_path: Path) -> None:
    text = "region_code,township_code,county_code,province_code\n610602100201,610602100,610602,61\n"
    sources = read_sources(_write_csv(tmp_path, "villages", text))
    assert list(sources.tables) == ["villages"]
    assert sources["events"].empty
    assert list(sources["events"].columns) == list(empty_frame(TABLES["events"]).columns)


def test_empty_frames_are_typed_and_each_call_gets_its_own() -> None:
    first = empty_frame(TABLES["events"])
    assert [str(dtype) for dtype in first.dtypes] == [pandas_dtype(c) for c in TABLES["events"].columns]
    first["extra"] = []
    first.loc[0] = None  # a row added to one copy reaches no other
    second = empty_frame(TABLES["events"])
    assert second.empty and "extra" not in second.columns


def test_ingestion_columns_are_kept_and_unknown_files_reported(tmp_path: Path) -> None:
    text = (
        "member_id,household_id,birth_date,person_pseudonym,pseudonym_key_version,name\nM1,H1,1990-01-01,ab,v1,张三\n"
    )
    folder = _write_csv(tmp_path, "members", text)
    (folder / "notes.txt").write_text("hello")
    sources = read_sources(folder)
    assert {"person_pseudonym", "pseudonym_key_version", "name"} <= set(sources["members"].columns)
    assert sources.warnings == ["ignored file notes.txt: not a table of the contract"]


def test_both_formats_for_one_table_is_an_error(tmp_path: Path, sources: Sources) -> None:
    write_sources(sources, tmp_path, "parquet")
    write_sources(sources, tmp_path, "csv")
    with pytest.raises(SourceFolderError, match="both villages.parquet and villages.csv"):
        read_sources(tmp_path)


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceFolderError, match="does not exist"):
        read_sources(tmp_path / "nope")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_source_writer_appends_chunks(tmp_path: Path, fmt: str) -> None:
    typed = coerce_sources(make_sources())
    writer = SourceWriter(tmp_path, fmt)  # type: ignore[arg-type]
    status = typed["member_status"]
    writer.append("member_status", status.iloc[:10])
    writer.append("member_status", status.iloc[10:])
    writer.close({"synthetic": True})
    again = read_sources(tmp_path)
    pd.testing.assert_frame_equal(again["member_status"], status)
    assert again.manifest["rows"] == {"member_status": len(status)}


@pytest.mark.parametrize("padded", [" H000001", "H000001\t", "\u3000H000001\u3000", "H000001\r"])
def test_padding_is_trimmed(padded: str) -> None:
    sources = make_sources()
    sources.tables["households"].loc[0, "household_id"] = padded
    assert coerce_sources(sources)["households"]["household_id"][0] == "H000001"
