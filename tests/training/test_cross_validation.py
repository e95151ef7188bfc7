"""`--cv K`: folds that keep the future out (time) or households whole (random), figures recomputed by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import TimeSeriesSplit

from tests.fixtures import MESSY_PROFILES, MESSY_SPEC
from tests.fixtures.survey import survey_table
from training.byod import data_from_profile_table
from training.cross_validation import (
    CrossValidationError,
    cross_validate,
    cv_folds,
    log_cross_validation,
)
from training.fit import TrainConfig
from training.pipeline import TrainingData, train_and_register
from training.settings import TrainingSettings

FAST = TrainConfig(num_boost_round=200, early_stopping_rounds=20)
SURVEY_SPEC = """\
version: 1
id_columns: [hhid, year]
features:
  - {name: terrain, type: category, parse: {categories: [hill, mountain, plain]}}
  - {name: members, type: count}
  - {name: land_mu, type: number}
  - {name: loans_yuan, type: number, values: {no: 0, yes: 1}, parse: {missing: ["", n/a]}}
  - {name: ill, type: flag, values: {no: 0, yes: 1, 否: 0, 是: 1}}
"""


def survey(tmp_path: Path, time: str | None, households: int = 200, years: int = 3) -> TrainingData:
    frame = survey_table(households)
    frame = frame[frame["year"].astype(int) < 2021 + years] if time else frame[frame["year"] == "2023"]
    frame.to_csv(tmp_path / "survey.csv", index=False)
    (tmp_path / "spec.yaml").write_text(SURVEY_SPEC, encoding="utf-8")
    return data_from_profile_table(tmp_path / "survey.csv", tmp_path / "spec.yaml", "relapsed", time, [])


def test_random_folds_partition_the_rows_keep_households_whole_and_keep_the_base_rate(tmp_path: Path) -> None:
    data = survey(tmp_path, None)
    y = data.snapshots["label"].to_numpy()
    folds = cv_folds(data, 5, seed=3)
    tests = np.concatenate([f.test_rows for f in folds])
    assert sorted(tests.tolist()) == list(range(len(y)))  # every row tested exactly once
    for i, fold in enumerate(folds):
        snaps = fold.snapshots
        test_ids = set(snaps.loc[fold.split.test_mask(snaps), "household_id"])
        fit_ids = set(snaps.loc[fold.split.train_mask(snaps) | fold.split.valid_mask(snaps), "household_id"])
        assert not test_ids & fit_ids
        # Validation is the next fold's test rows: each row validates once too.
        assert np.array_equal(np.flatnonzero(fold.split.valid_mask(snaps)), folds[(i + 1) % 5].test_rows)
        assert abs(y[fold.test_rows].sum() - y.sum() / 5) <= 1  # stratified: positives dealt evenly
    other = cv_folds(data, 5, seed=4)
    assert any(not np.array_equal(a.test_rows, b.test_rows) for a, b in zip(folds, other, strict=True))


def test_time_folds_are_sklearns_forward_chaining_over_the_dates(tmp_path: Path) -> None:
    data = data_from_profile_table(MESSY_PROFILES, MESSY_SPEC, "relapsed", "survey_year", [])
    dates = np.array(sorted(data.snapshots["as_of"].unique()))
    folds = cv_folds(data, 2, seed=0)
    reference = list(TimeSeriesSplit(n_splits=2, test_size=1).split(dates))
    for fold, (before, test) in zip(folds, reference, strict=True):
        assert fold.split.test == dates[test[0]]
        assert {*fold.split.train, fold.split.valid} == set(dates[before])
        assert fold.split.valid == dates[before[-1]]  # validation is the date just before the test date
        expected = np.flatnonzero(data.snapshots["as_of"].to_numpy() == dates[test[0]])
        assert np.array_equal(fold.test_rows, expected)


def test_more_folds_than_the_dates_allow_is_a_clear_error() -> None:
    data = data_from_profile_table(MESSY_PROFILES, MESSY_SPEC, "relapsed", "survey_year", [])
    with pytest.raises(CrossValidationError, match=r"--cv 3: the reference dates allow 2 time-ordered fold"):
        cv_folds(data, 3, seed=0)


@pytest.mark.slow
def test_fold_figures_are_the_out_of_fold_predictions_scored_by_sklearn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = survey(tmp_path, None)
    result = cross_validate(data, 4, FAST)
    predictions = result.predictions
    assert sorted(predictions["row"]) == list(range(len(data.snapshots)))
    for row in result.folds.itertuples(index=False):
        part = predictions[predictions["fold"] == row.fold]
        assert row.pr_auc == pytest.approx(average_precision_score(part["label"], part["probability"]))
        assert row.roc_auc == pytest.approx(roc_auc_score(part["label"], part["probability"]))
        assert (part["label"].to_numpy() == data.snapshots["label"].to_numpy()[part["row"]]).all()
    summary = result.summary()
    assert summary["pr_auc"][0] == pytest.approx(result.folds["pr_auc"].mean())
    assert summary["pr_auc"][1] == pytest.approx(np.std(result.folds["pr_auc"], ddof=1))
    assert 0.5 < summary["roc_auc"][0] < 1.0  # the survey's label depends on its features

    outcome = train_and_register(data, TrainingSettings(data_dir=tmp_path / "data"), FAST, backtest=False)
    log_cross_validation(result, outcome.run_id)
    run = MlflowClient().get_run(outcome.run_id)
    assert run.data.metrics["cv_pr_auc_mean"] == pytest.approx(summary["pr_auc"][0])
    assert run.data.metrics["cv_pr_auc_sd"] == pytest.approx(summary["pr_auc"][1])
    steps = MlflowClient().get_metric_history(outcome.run_id, "cv_pr_auc")
    assert [m.step for m in steps] == [1, 2, 3, 4]
    assert [m.value for m in steps] == pytest.approx(result.folds["pr_auc"].tolist())
    assert pd.DataFrame(result.folds)["rows"].sum() == len(data.snapshots)
