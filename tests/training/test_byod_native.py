"""The demo city's own quarterly snapshots, written out as a profile table and trained through the
bring-your-own-data road (`--profiles --time as_of --horizon 12`), give the native road's split, model and test
figures; without `--horizon` they give the leaked figures the native road avoids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.profiles.spec import catalogue_spec, write_feature_spec
from features.reading.sources import read_sources
from features.simulation import CityConfig, simulate_city
from models.risk_model import prepare_matrix
from training.byod import data_from_profile_table
from training.fit import TrainConfig, fit_risk_model
from training.metrics import ranking_metrics
from training.pipeline import TrainingData, data_from_sources
from training.split import TimeSplit, latest_split

pytestmark = pytest.mark.slow  # simulates a city and fits three models

FAST = TrainConfig(num_boost_round=150, early_stopping_rounds=30)
GROUPS = ["head_gender", "county"]


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> TrainingData:
    city = tmp_path_factory.mktemp("city")
    simulate_city(CityConfig(households=4_000), seed=11, out_dir=city)
    return data_from_sources(read_sources(city), label="identified_12m")  # quarterly snapshots


@pytest.fixture(scope="module")
def table(native: TrainingData, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The snapshots as a data scientist would receive them: one CSV row per household and date, the catalogue's
    spec beside it, the label and two fairness columns as plain columns."""
    folder = tmp_path_factory.mktemp("byod")
    names = [f.name for f in native.features]
    frame = native.snapshots[["household_id", "as_of", *names, "label"]].copy()
    frame["as_of"] = frame["as_of"].dt.strftime("%Y-%m-%d")
    for group in GROUPS:
        frame[group] = native.groups[group].astype("string").fillna("")
    frame.to_csv(folder / "snapshots.csv", index=False)
    spec = write_feature_spec(catalogue_spec(), folder / "spec.yaml")
    return folder / "snapshots.csv", spec


def _test_figures(data: TrainingData, split: TimeSplit) -> tuple[np.ndarray, float]:
    model = fit_risk_model(data.snapshots, data.features, split, FAST).model
    test = data.snapshots[split.test_mask(data.snapshots)].sort_values("household_id")
    probabilities = model.predict_proba(prepare_matrix(test, data.features))
    return probabilities, ranking_metrics(test["label"].to_numpy(int), probabilities)["pr_auc"]


def test_the_demo_snapshots_with_a_horizon_give_the_native_split_model_and_figures(
    native: TrainingData, table: tuple[Path, Path]
) -> None:
    path, spec = table
    byod = data_from_profile_table(path, spec, "label", "as_of", GROUPS, horizon_months=12)
    native_split = latest_split(native.snapshots["as_of"], native.horizon_months)
    byod_split = latest_split(byod.snapshots["as_of"], byod.horizon_months)
    assert byod_split == native_split
    assert len(byod.snapshots) == len(native.snapshots)
    assert [f.name for f in byod.features] == [f.name for f in native.features]
    assert [f.direction for f in byod.features] == [f.direction for f in native.features]

    native_p, native_pr_auc = _test_figures(native, native_split)
    byod_p, byod_pr_auc = _test_figures(byod, byod_split)
    np.testing.assert_allclose(byod_p, native_p, rtol=0, atol=1e-12)
    assert byod_pr_auc == pytest.approx(native_pr_auc, abs=1e-12)


def test_without_a_horizon_the_windows_overlap_and_training_labels_see_the_test_period(
    native: TrainingData, table: tuple[Path, Path]
) -> None:
    path, spec = table
    leaked = data_from_profile_table(path, spec, "label", "as_of", GROUPS)
    split = latest_split(leaked.snapshots["as_of"], leaked.horizon_months)
    purged = latest_split(native.snapshots["as_of"], native.horizon_months)
    assert split.valid == split.test - pd.DateOffset(months=3)  # the quarter before: its window overlaps the test's
    assert max(split.train) > purged.valid  # training rows whose 12-month label reaches past the test date
    assert any("--horizon" in note for note in leaked.notes)
