"""Tuning: nested MLflow runs, a flat best-params JSON, determinism, and a test period that stays unseen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from relapse.cli import app
from tests.fixtures import MESSY_PROFILES, MESSY_SPEC
from training import settings as training_settings
from training.byod import data_from_profile_table
from training.fit import TrainConfig
from training.pipeline import TrainingData
from training.settings import TrainingSettings
from training.split import latest_split
from training.tuning import BEST_PARAMS_FILE, TuneOutcome, default_trial, suggest_params, tune

FAST = TrainConfig(num_boost_round=200, early_stopping_rounds=20)
SEARCHED = {
    "learning_rate",
    "num_leaves",
    "min_data_in_leaf",
    "feature_fraction",
    "bagging_fraction",
    "lambda_l2",
    "max_bin",
    "cat_smooth",
}


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return data_from_profile_table(MESSY_PROFILES, MESSY_SPEC, "relapsed", "survey_year", ["county"])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MLflow store for the module: creating a SQLite store costs seconds (its migrations)."""
    return tmp_path_factory.mktemp("store")


def run_tune(data: TrainingData, store: Path, out: Path, seed: int = 7) -> TuneOutcome:
    config = TrainConfig(num_boost_round=200, early_stopping_rounds=20, seed=seed)
    return tune(data, TrainingSettings(data_dir=store), config, trials=3, out=out)


@pytest.fixture(scope="module")
def first(data: TrainingData, store: Path) -> TuneOutcome:
    return run_tune(data, store, store / "best_params.json")


@pytest.mark.parametrize("train_rows", [300, 40_000, 2_000_000])
def test_the_first_trial_is_the_current_defaults_and_lies_in_the_search_space(train_rows: int) -> None:
    seen: list[dict[str, object]] = []

    def objective(trial: optuna.Trial) -> float:
        seen.append(suggest_params(trial, train_rows))
        return 0.0

    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(default_trial(train_rows))
    study.optimize(objective, n_trials=1)
    assert seen == [default_trial(train_rows)]
    assert set(default_trial(train_rows)) == SEARCHED


@pytest.mark.slow
def test_tuning_logs_a_parent_with_nested_trials_and_a_flat_best_params_json(first: TuneOutcome, store: Path) -> None:
    client = MlflowClient()
    parent = client.get_run(first.run_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{first.run_id}'"
    )
    assert parent.info.run_name == "tune"
    assert sorted(c.info.run_name for c in children) == ["trial-0", "trial-1", "trial-2"]
    for child in children:
        assert set(child.data.params) == SEARCHED
        assert {"valid_pr_auc", "valid_roc_auc", "valid_ece", "best_iteration"} <= set(child.data.metrics)
        assert not any(k.startswith("test_") for k in child.data.metrics)
    best_child = next(
        c for c in children if c.info.run_id == first.trials.set_index("trial").loc[first.best_trial, "run_id"]
    )
    assert best_child.data.metrics["valid_pr_auc"] == pytest.approx(first.best_value)
    assert first.best_value == max(c.data.metrics["valid_pr_auc"] for c in children)

    # The best parameters: a flat JSON dict of LightGBM parameters, in the run and in --out alike.
    artifact = mlflow.artifacts.load_dict(f"runs:/{first.run_id}/{BEST_PARAMS_FILE}")
    written = json.loads((store / "best_params.json").read_text(encoding="utf-8"))
    assert artifact == written == first.best_params
    assert set(written) == SEARCHED and all(isinstance(v, int | float) for v in written.values())
    assert parent.data.params["best_num_leaves"] == str(written["num_leaves"])
    assert parent.data.metrics["best_valid_pr_auc"] == pytest.approx(first.best_value)
    assert parent.data.params["split_valid"] == "2022-01-01" and parent.data.params["split_test"] == "2023-01-01"
    # The defaults are trial 0, so the best is never worse than them on validation.
    assert first.trials.set_index("trial").loc[0, "learning_rate"] == default_trial(1)["learning_rate"]
    assert first.best_value >= parent.data.metrics["default_valid_pr_auc"]


@pytest.mark.slow
def test_tuning_is_deterministic_for_a_seed(data: TrainingData, store: Path, first: TuneOutcome) -> None:
    again = run_tune(data, store, store / "again.json")
    assert again.best_params == first.best_params
    assert again.best_value == first.best_value
    assert again.trials["valid_pr_auc"].tolist() == first.trials["valid_pr_auc"].tolist()
    other = run_tune(data, store, store / "other.json", seed=8)
    assert other.trials["learning_rate"].tolist()[1:] != first.trials["learning_rate"].tolist()[1:]


@pytest.mark.slow
def test_the_test_period_does_not_influence_tuning(data: TrainingData, store: Path, first: TuneOutcome) -> None:
    """Scrambling every label and a feature of the test period changes nothing: trials never look at it."""
    split = latest_split(data.snapshots["as_of"])
    scrambled = data.snapshots.copy()
    test = split.test_mask(scrambled).to_numpy()
    scrambled.loc[test, "label"] = 1 - scrambled.loc[test, "label"]
    scrambled.loc[test, "income_per_capita_yuan"] = -1.0
    other = run_tune(replace(data, snapshots=scrambled), store, store / "scrambled.json")
    assert other.trials["valid_pr_auc"].tolist() == first.trials["valid_pr_auc"].tolist()
    assert other.best_params == first.best_params


@pytest.fixture
def cli_env(tmp_path: Path, isolated_settings: object) -> Iterator[Path]:
    """RELAPSE_DATA_DIR points at tmp_path/data for both packages' settings (see tests/conftest.py)."""
    training_settings.get_settings.cache_clear()
    yield tmp_path
    training_settings.get_settings.cache_clear()


@pytest.mark.slow
def test_relapse_tune_on_your_own_profiles_writes_best_params(cli_env: Path) -> None:
    out = cli_env / "best.json"
    args = ["tune", "--trials", "2", "--profiles", str(MESSY_PROFILES), "--spec", str(MESSY_SPEC)]
    args += ["--label", "relapsed", "--time", "survey_year", "--group", "county", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert set(json.loads(out.read_text(encoding="utf-8"))) == SEARCHED
    assert (cli_env / "data" / "mlflow" / "mlflow.db").is_file()  # the store under RELAPSE_DATA_DIR


def test_relapse_tune_without_the_demo_city_says_what_to_do(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["tune", "--trials", "1"])
    assert result.exit_code == 2
    assert "run `relapse demo` first" in " ".join(result.output.split())


def test_relapse_tune_reports_a_bad_cell(cli_env: Path) -> None:
    bad = cli_env / "bad.csv"
    bad.write_text(MESSY_PROFILES.read_text(encoding="utf-8").replace("HH0003,2020,", "HH0003,someday,", 1))
    args = ["tune", "--trials", "1", "--profiles", str(bad), "--spec", str(MESSY_SPEC), "--label", "relapsed"]
    result = CliRunner().invoke(app, [*args, "--time", "survey_year"])
    assert result.exit_code == 2
    assert "survey_year, row 2 (line 4 of bad.csv): cannot read 'someday'" in " ".join(result.output.split())
