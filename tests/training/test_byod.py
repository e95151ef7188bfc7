"""Bring your own data: a messy survey CSV + YAML spec → training data → a registered model plain MLflow uses."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from features.profiles.spec import FeatureSpecError
from tests.fixtures import MESSY_PROFILES, MESSY_SPEC, MESSY_YEARS, messy_profiles_csv
from training.byod import (
    FOLD_DATES,
    ProfileTableError,
    data_from_profile_table,
    parse_label,
    parse_time,
    read_profile_table,
    stratified_folds,
)
from training.fit import TrainConfig
from training.pipeline import TrainingData, train_and_register
from training.settings import TrainingSettings
from training.split import latest_split

FAST = TrainConfig(num_boost_round=300, early_stopping_rounds=30)
GROUPS = ["county", "head_gender"]


def load(path: Path = MESSY_PROFILES, spec: Path = MESSY_SPEC, time: str | None = "survey_year") -> TrainingData:
    return data_from_profile_table(path, spec, "relapsed", time, GROUPS)


def messy_frame() -> pd.DataFrame:
    return pd.read_csv(MESSY_PROFILES, dtype=str, keep_default_na=False)


def test_the_committed_fixture_is_what_its_generator_writes() -> None:
    text = MESSY_PROFILES.read_text(encoding="utf-8")
    assert text == messy_profiles_csv()
    assert len(text.encode()) < 100_000
    assert len(text.splitlines()) == 1 + 600


def test_the_messy_fixture_parses_as_its_spec_says() -> None:
    data = load()
    snapshots = data.snapshots
    raw = messy_frame()
    assert len(snapshots) == 600
    # Years written "2022.0" or " 2021 " are the same reference dates as "2022" and "2021".
    assert sorted(snapshots["as_of"].unique()) == [pd.Timestamp(f"{y}-01-01") for y in MESSY_YEARS]
    assert snapshots["household_id"].iloc[0] == "HH0001"  # the spec's id columns other than the time column
    # Codes with leading zeros stay codes; the fairness groups stay text.
    assert list(snapshots["village_type"].cat.categories) == ["01", "02", "03"]
    assert set(data.groups["county"].dropna()) == {"0301", "0302", "0303", "0304"}
    assert set(data.groups["head_gender"]) == {"男", "女"}
    # Mixed "yes"/"是"/"1" flags and labels, "NA"/"-"/"" as missing numbers.
    expected_label = raw["relapsed"].isin(["1", "yes", "是", "True"]).astype(int).to_numpy()
    assert snapshots["label"].to_numpy().tolist() == expected_label.tolist()
    chronic = raw["chronic_illness"].isin(["1", "yes", "Yes", "是"]).astype(float).to_numpy()
    assert snapshots["chronic_illness"].to_numpy().tolist() == chronic.tolist()
    missing_income = raw["income_per_capita_yuan"].str.strip().isin(["", "NA", "-"]).to_numpy()
    assert missing_income.any()
    assert (snapshots["income_per_capita_yuan"].isna().to_numpy() == missing_income).all()
    # A count with empty cells is float; one without stays int.
    assert snapshots["hh_size"].dtype == np.float64 and snapshots["hh_size"].isna().any()
    assert snapshots["migrant_workers"].dtype == np.int64
    assert data.rules is None and data.synthetic is False and data.catalogue_version is None
    assert data.label == "relapsed" and data.notes == []
    assert data.feature_groups["medical_cost_yuan"] == "illness"
    assert {f.name: f.direction for f in data.features}["income_per_capita_yuan"] == -1


def test_parquet_reads_like_csv(tmp_path: Path) -> None:
    path = tmp_path / "profiles.parquet"
    messy_frame().to_parquet(path)
    pd.testing.assert_frame_equal(load(path).snapshots, load().snapshots)


@pytest.mark.slow
def test_training_on_the_messy_csv_registers_a_model_plain_mlflow_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # whatever MLflow writes relative to the working directory stays in tmp_path
    data = load()
    settings = TrainingSettings(data_dir=tmp_path / "data")
    outcome = train_and_register(data, settings, FAST, backtest=False)
    assert outcome.version == "1"
    assert outcome.evaluation.rules == {}  # no rule baseline for foreign data
    assert outcome.evaluation.metrics["roc_auc"] > 0.65  # the fixture's label depends on its features

    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.registered_model}/{outcome.version}")
    assert pyfunc.metadata.get_input_schema().input_names() == [f.name for f in data.features]
    test = data.snapshots[data.snapshots["as_of"] == data.snapshots["as_of"].max()]
    # Plain MLflow use: the profile columns as the table has them (issue #4 §3).
    served = np.asarray(pyfunc.predict(test[pyfunc.metadata.get_input_schema().input_names()]), dtype=float)
    assert ((served >= 0) & (served <= 1)).all()
    np.testing.assert_array_equal(served, outcome.model.predict_proba(test))

    run = MlflowClient().get_run(outcome.run_id)
    assert run.data.params["label"] == "relapsed"
    assert run.data.tags["synthetic_data"] == "false"


@pytest.mark.parametrize(
    ("column", "row", "value", "what"),
    [
        ("income_per_capita_yuan", 5, "12k", "number"),
        ("income_per_capita_yuan", 0, "1,200", "number"),
        ("hh_size", 17, "2.5", "whole number"),
        ("chronic_illness", 42, "maybe", "flag"),
        ("migrant_workers", 3, "-1", "whole number"),
        ("village_type", 599, "04", "category"),
        ("relapsed", 10, "unknown", "0/1 label"),
        ("relapsed", 11, "", "0/1 label"),
        ("survey_year", 250, "last year", "date or a year"),
    ],
)
def test_a_bad_cell_is_named_by_column_row_and_value(
    tmp_path: Path, column: str, row: int, value: str, what: str
) -> None:
    frame = messy_frame()
    frame.loc[row, column] = value
    path = tmp_path / "profiles.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(FeatureSpecError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{column}, row {row} (line {row + 2} of profiles.csv):")
    assert repr(value) in message and what in message


def test_a_bad_cell_in_parquet_names_the_row_without_a_file_line(tmp_path: Path) -> None:
    frame = messy_frame()
    frame.loc[7, "relapsed"] = "maybe"
    frame.to_parquet(tmp_path / "profiles.parquet")
    with pytest.raises(ProfileTableError, match=r"^relapsed, row 7: cannot read 'maybe' as a 0/1 label$"):
        load(tmp_path / "profiles.parquet")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "0", " 1 ", "1.0", "0.0"], [1, 0, 1, 1, 0]),
        (["true", "FALSE", "True", "false"], [1, 0, 1, 0]),
        (["yes", "no", "YES", "No", "y", "n"], [1, 0, 1, 0, 1, 0]),
        (["是", "否", " 是"], [1, 0, 1]),
        ([1, 0, 1.0, True, False], [1, 0, 1, 1, 0]),  # typed Parquet columns
    ],
)
def test_label_values(values: list[object], expected: list[int]) -> None:
    parsed = parse_label(pd.Series(values, dtype=object), "y")
    assert parsed.tolist() == expected and parsed.dtype == np.int8


@pytest.mark.parametrize("bad", ["2", "-1", "maybe", "", None, np.nan])
def test_any_other_label_is_an_error(bad: object) -> None:
    with pytest.raises(ProfileTableError, match=r"^y, row 1: cannot read .* as a 0/1 label$"):
        parse_label(pd.Series(["1", bad, "0"], dtype=object), "y")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021", "2021-01-01"),
        (" 2021 ", "2021-01-01"),
        ("2021.0", "2021-01-01"),
        (2021, "2021-01-01"),
        ("2021-06-30", "2021-06-30"),
        ("2021/6/30", "2021-06-30"),
        (pd.Timestamp("2022-03-01"), "2022-03-01"),
    ],
)
def test_time_values_are_years_or_dates(value: object, expected: str) -> None:
    assert parse_time(pd.Series([value], dtype=object), "t").iloc[0] == pd.Timestamp(expected)


def test_the_time_split_needs_three_dates_with_both_labels(tmp_path: Path) -> None:
    frame = messy_frame()
    two_years = frame[frame["survey_year"].str.strip().str[:4].isin(["2022", "2023"])]
    two_years.to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(ProfileTableError, match="2 distinct reference date"):
        load(tmp_path / "two.csv")
    latest = frame["survey_year"].str.strip().str[:4] == "2023"
    frame.loc[latest, "relapsed"] = "0"
    frame.to_csv(tmp_path / "no_positives.csv", index=False)
    with pytest.raises(ProfileTableError, match=r"test period \(2023-01-01\) has 150 rows, all with label 0"):
        load(tmp_path / "no_positives.csv")


@pytest.mark.parametrize(
    ("label", "time", "groups", "match"),
    [
        ("outcome", "survey_year", [], "--label: the profile table has no column 'outcome'"),
        ("relapsed", "year", [], "--time: the profile table has no column 'year'"),
        ("relapsed", "survey_year", ["township"], "--group: the profile table has no column 'township'"),
        ("chronic_illness", "survey_year", [], "also a feature"),
    ],
)
def test_options_must_name_columns_of_the_table(label: str, time: str, groups: list[str], match: str) -> None:
    with pytest.raises(ProfileTableError, match=match):
        data_from_profile_table(MESSY_PROFILES, MESSY_SPEC, label, time, groups)


def test_without_a_time_column_the_split_is_stratified_random_and_noted() -> None:
    data = load(time=None)
    snapshots = data.snapshots
    assert sorted(snapshots["as_of"].unique()) == list(FOLD_DATES)
    # 60/20/20 within each label value: the base rate is the same in every fold (up to rounding).
    counts = snapshots.groupby(["as_of", "label"]).size().unstack()
    positives, negatives = int(snapshots["label"].sum()), int((snapshots["label"] == 0).sum())
    assert counts[1].tolist() == pytest.approx([0.6 * positives, 0.2 * positives, 0.2 * positives], abs=1)
    assert counts[0].tolist() == pytest.approx([0.6 * negatives, 0.2 * negatives, 0.2 * negatives], abs=1)
    assert len(data.notes) == 1 and data.notes[0].startswith("no time column: stratified random split")
    # Seeded: the same seed gives the same folds, another seed others.
    assert load(time=None).snapshots["as_of"].equals(snapshots["as_of"])
    other = data_from_profile_table(MESSY_PROFILES, MESSY_SPEC, "relapsed", None, GROUPS, seed=1)
    assert not other.snapshots["as_of"].equals(snapshots["as_of"])


def test_stratified_folds_match_a_reference_count() -> None:
    y = np.r_[np.ones(10, int), np.zeros(95, int)]
    folds = stratified_folds(y, seed=3)
    table = pd.crosstab(folds.to_numpy(), y)
    assert table[1].tolist() == [6, 2, 2]
    assert table[0].tolist() == [57, 19, 19]


def test_without_a_time_column_a_household_may_appear_only_once(tmp_path: Path) -> None:
    spec = yaml.safe_load(MESSY_SPEC.read_text(encoding="utf-8"))
    spec["id_columns"] = ["household_id"]  # four survey years per household, and no time to order them
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ProfileTableError, match="household 'HH0001' appears in several rows"):
        load(spec=tmp_path / "spec.yaml", time=None)


def test_without_id_columns_rows_are_numbered(tmp_path: Path) -> None:
    spec = yaml.safe_load(MESSY_SPEC.read_text(encoding="utf-8"))
    spec["id_columns"] = []
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    snapshots = load(spec=tmp_path / "spec.yaml", time=None).snapshots
    assert snapshots["household_id"].tolist()[:2] == ["row-0", "row-1"]
    assert snapshots["household_id"].is_unique


@pytest.mark.slow
def test_the_stratified_fallback_is_recorded_in_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    outcome = train_and_register(
        load(time=None), TrainingSettings(data_dir=tmp_path / "data"), FAST, backtest=False, register=False
    )
    assert outcome.version is None
    notes = MlflowClient().get_run(outcome.run_id).data.tags["notes"]
    assert notes.startswith("no time column: stratified random split")


def test_gbk_csv_is_read(tmp_path: Path) -> None:
    """Chinese spreadsheets are often saved as GBK."""
    path = tmp_path / "gbk.csv"
    path.write_bytes(MESSY_PROFILES.read_text(encoding="utf-8").encode("gb18030"))
    assert read_profile_table(path).equals(messy_frame())


@pytest.mark.slow
def test_a_run_without_groups_trains_evaluates_and_registers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `relapse train --profiles … --label … --time …` without --group: no fairness table, no crash."""
    monkeypatch.chdir(tmp_path)
    data = data_from_profile_table(MESSY_PROFILES, MESSY_SPEC, "relapsed", "survey_year", [])
    assert data.groups.columns.empty
    outcome = train_and_register(data, TrainingSettings(data_dir=tmp_path / "data"), FAST, backtest=False)
    assert outcome.version == "1"
    assert outcome.evaluation.fairness.empty and outcome.evaluation.fairness_gaps == {}
    assert outcome.evaluation.metrics["roc_auc"] > 0.65


def _quarterly(tmp_path: Path) -> Path:
    """The messy table with its rows spread over twelve quarterly reference dates (2021-01 … 2023-10)."""
    frame = messy_frame()
    quarters = pd.date_range("2021-01-01", periods=12, freq="QS")
    frame["survey_year"] = [str(quarters[i % 12].date()) for i in range(len(frame))]
    frame.to_csv(tmp_path / "quarterly.csv", index=False)
    return tmp_path / "quarterly.csv"


def test_a_label_horizon_purges_overlapping_windows_from_the_split(tmp_path: Path) -> None:
    """With --horizon 12 no training label window reaches the validation date, nor a validation one the test date;
    without it the periods are consecutive and a note says what that means."""
    path = _quarterly(tmp_path)
    data = data_from_profile_table(path, MESSY_SPEC, "relapsed", "survey_year", GROUPS, horizon_months=12)
    split = latest_split(data.snapshots["as_of"], data.horizon_months)
    assert data.horizon_months == 12
    assert split.valid <= split.test - pd.DateOffset(months=12)
    assert all(date <= split.valid - pd.DateOffset(months=12) for date in split.train)
    assert split.test == pd.Timestamp("2023-10-01") and split.valid == pd.Timestamp("2022-10-01")

    plain = data_from_profile_table(path, MESSY_SPEC, "relapsed", "survey_year", GROUPS)
    consecutive = latest_split(plain.snapshots["as_of"], plain.horizon_months)
    assert consecutive.valid == pd.Timestamp("2023-07-01")  # one quarter before the test date: windows overlap
    assert any("--horizon" in note for note in plain.notes)


def test_a_horizon_the_dates_cannot_hold_or_without_dates_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileTableError, match="--horizon 36"):
        data_from_profile_table(_quarterly(tmp_path), MESSY_SPEC, "relapsed", "survey_year", GROUPS, horizon_months=36)
    with pytest.raises(ProfileTableError, match="--horizon needs --time"):
        data_from_profile_table(MESSY_PROFILES, MESSY_SPEC, "relapsed", None, GROUPS, horizon_months=12)
