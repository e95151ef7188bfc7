"""`relapse monitor`: a registered model's figures on later labelled rows, beside its figures at training."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.metrics import average_precision_score

from tests.fixtures.survey import survey_table
from training.byod import data_from_profile_table
from training.fit import TrainConfig
from training.metrics import expected_calibration_error
from training.monitor import labelled_rows, monitor, realised_performance
from training.pipeline import TrainOutcome, load_registered, train_and_register
from training.settings import TrainingSettings
from training.tracking import configure

SPEC = """\
version: 1
id_columns: [hhid, year]
features:
  - {name: terrain, type: category, parse: {categories: [hill, mountain, plain]}}
  - {name: members, type: count}
  - {name: land_mu, type: number}
  - {name: loans_yuan, type: number, values: {no: 0, yes: 1}, parse: {missing: ["", n/a]}}
  - {name: ill, type: flag, values: {no: 0, yes: 1, 否: 0, 是: 1}}
"""


def scores(n: int, seed: int, signal: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    p = np.clip(0.2 + signal * (y - 0.2) + rng.normal(0, 0.15, n), 0.001, 0.999)
    return y, p


@pytest.mark.slow  # about 10 s on 2 cores: outside `make test-fast`
def test_realised_figures_are_sklearns_and_the_verdict_needs_disjoint_intervals() -> None:
    y, p = scores(2_000, 1, signal=0.5)
    training = {"test_pr_auc": 0.3, "test_pr_auc_ci_low": 0.25, "test_pr_auc_ci_high": 0.35}
    realised = realised_performance(y, p, training)
    assert realised.figures["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert realised.figures["ece"] == pytest.approx(expected_calibration_error(y, p))
    assert (realised.rows, realised.positives) == (2_000, int(y.sum()))
    assert realised.intervals["pr_auc"][0] > 0.35  # a strong signal: realised well above the training interval
    assert realised.verdict("pr_auc") == "better"
    assert realised.verdict("recall_at_5pct") == "as at training"  # the run has no training figure for it

    strong = {"test_pr_auc": 0.4, "test_pr_auc_ci_low": 0.35, "test_pr_auc_ci_high": 0.45}
    weak = realised_performance(*scores(2_000, 2, signal=0.0), strong)  # no signal: PR-AUC near the base rate
    assert weak.intervals["pr_auc"][1] < 0.35 and weak.verdict("pr_auc") == "worse"
    overlapping = {"test_pr_auc": 0.5, "test_pr_auc_ci_low": 0.1, "test_pr_auc_ci_high": 1.0}
    assert realised_performance(y, p, overlapping).verdict("pr_auc") == "as at training"
    # ECE: lower is better, so a realised interval above the training one is worse.
    ece = {"test_ece": 0.001, "test_ece_ci_low": 0.0, "test_ece_ci_high": 0.002}
    assert realised.intervals["ece"][0] > 0.002
    assert realised_performance(y, p, ece).verdict("ece") == "worse"
    poorly_calibrated = {"test_ece": 0.5, "test_ece_ci_low": 0.45, "test_ece_ci_high": 0.55}
    assert realised_performance(y, p, poorly_calibrated).verdict("ece") == "better"


@dataclass(frozen=True)
class Trained:
    folder: Path
    settings: TrainingSettings
    outcome: TrainOutcome
    later: pd.DataFrame


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """A byod model trained on survey years 2019–2022; 2023 is the later, labelled table."""
    folder = tmp_path_factory.mktemp("monitor")
    here = Path.cwd()
    os.chdir(folder)  # whatever MLflow writes relative to the working directory stays in the folder
    try:
        survey = survey_table(households=600, years=(2019, 2020, 2021, 2022, 2023))
        years = survey["year"].astype(int)
        survey[years <= 2022].to_csv(folder / "past.csv", index=False)
        later = survey[years == 2023]
        later.to_csv(folder / "later.csv", index=False)
        (folder / "spec.yaml").write_text(SPEC, encoding="utf-8")
        settings = TrainingSettings(data_dir=folder / "data", registered_model="byod-spec")
        data = data_from_profile_table(folder / "past.csv", folder / "spec.yaml", "relapsed", "year", [])
        outcome = train_and_register(data, settings, TrainConfig(num_boost_round=300), backtest=False)
        yield Trained(folder, settings, outcome, later)
    finally:
        os.chdir(here)


def relapse(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAPSE_DATA_DIR": str(folder / "data")}
    env.pop("RELAPSE_DEBUG", None)
    return subprocess.run(
        [str(Path(sys.executable).with_name("relapse")), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_monitor_scores_later_rows_logs_a_run_and_sees_a_broken_relation(trained: Trained) -> None:
    folder, settings, later = trained.folder, trained.settings, trained.later
    args = ["monitor", "--profiles", "later.csv", "--spec", "spec.yaml", "--label", "relapsed"]
    done = relapse(folder, *args, "--model-name", "byod-spec")
    assert done.returncode == 0, done.stdout + done.stderr
    said = " ".join((done.stdout + done.stderr).split())
    assert "byod-spec version 1 on later.csv (600 rows" in said and "pr_auc" in said

    configure(settings)
    client = MlflowClient()
    experiment = client.get_run(trained.outcome.run_id).info.experiment_id
    runs = client.search_runs([experiment], filter_string="tags.monitor_of_model = 'byod-spec'")
    assert len(runs) == 1
    metrics = runs[0].data.metrics
    model = load_registered(client, settings, "1")
    rows, y = labelled_rows(model, folder / "later.csv", folder / "spec.yaml", "relapsed")
    assert y is not None and y.tolist() == (later["relapsed"] == "1").astype(int).tolist()
    expected = average_precision_score(y, model.predict_proba(rows))
    assert metrics["realised_pr_auc"] == pytest.approx(expected)
    assert metrics["training_pr_auc"] == pytest.approx(trained.outcome.evaluation.metrics["pr_auc"])
    # The next survey year of the same households: no feature or score drifts past the watch level.
    assert "drift against training" in said
    psi = {k: v for k, v in metrics.items() if k.startswith("psi_")}
    assert set(psi) == {f"psi_{n}" for n in model.feature_names} | {"psi_score"}
    assert max(psi.values()) < 0.1, psi

    # Outcomes unrelated to the rows (shuffled): the ranking is gone, and the check says so.
    shuffled = later.assign(relapsed=np.random.default_rng(0).permutation(later["relapsed"].to_numpy()))
    shuffled.to_csv(folder / "shuffled.csv", index=False)
    _, realised, _, _ = monitor(settings, folder / "shuffled.csv", folder / "spec.yaml", "relapsed", None)
    assert realised is not None
    assert realised.verdict("pr_auc") == "worse", (realised.intervals, realised.training_intervals)


@pytest.mark.slow
def test_evaluate_judges_a_version_of_ones_own_profiles_on_them_again(trained: Trained) -> None:
    """The training table and options again: the same test period, so the same PR-AUC as at training."""
    base = ("evaluate", "--model-name", "byod-spec", "--no-record")
    done = relapse(trained.folder, *base, "--profiles", "past.csv", "--spec", "spec.yaml", "--time", "year")
    assert done.returncode == 0, done.stdout + done.stderr
    pr_auc = trained.outcome.evaluation.metrics["pr_auc"]
    assert re.search(rf"PR-AUC\s*│\s*{pr_auc:.4f}", done.stdout + done.stderr), done.stdout

    without = relapse(trained.folder, *base)
    assert without.returncode == 2 and "Traceback" not in without.stderr
    assert "trained on your own profiles" in " ".join(without.stderr.replace("│", " ").split()), without.stderr


@pytest.mark.slow
def test_monitor_without_labels_names_a_feature_that_drifted_past_the_act_level(trained: Trained) -> None:
    land = pd.to_numeric(trained.later["land_mu"]) * 3 + 2  # every household's land measured anew, far larger
    bigger = trained.later.assign(land_mu=land.map("{:.2f}".format)).drop(columns=["relapsed"])
    bigger.to_csv(trained.folder / "bigger.csv", index=False)
    args = ["monitor", "--profiles", "bigger.csv", "--spec", "spec.yaml"]  # outcomes not known yet
    done = relapse(trained.folder, *args, "--model-name", "byod-spec")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    first = next(i for i, line in enumerate(lines) if "feature" in line and "PSI" in line)
    top = next(line for line in lines[first + 1 :] if "land_mu" in line or "loans_yuan" in line or "members" in line)
    assert "land_mu" in top and "act" in top, lines[first:]
    assert "drift only" in " ".join(lines)

    configure(trained.settings)
    client = MlflowClient()
    experiment = client.get_run(trained.outcome.run_id).info.experiment_id
    (run,) = client.search_runs([experiment], filter_string="params.table = 'bigger.csv'")
    assert run.data.metrics["psi_land_mu"] >= 0.25
    assert run.data.metrics["psi_members"] < 0.1 and run.data.metrics["drift_features_act"] >= 1
    assert not any(name.startswith("realised_") for name in run.data.metrics)
