"""The model lifecycle on a real MLflow store: train → challenger → gate → champion → plain MLflow use."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from features.reading.sources import read_sources
from features.simulation import CityConfig, simulate_city
from training.fit import TrainConfig
from training.model_card import CARD_FILE
from training.pipeline import TrainingData, data_from_sources, train_and_register
from training.registry import CHALLENGER, CHAMPION, alias_version, promote
from training.settings import TrainingSettings

pytestmark = pytest.mark.slow  # every test trains on the module's city

FAST = TrainConfig(num_boost_round=150, early_stopping_rounds=30)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("city")
    simulate_city(CityConfig(households=6_000), seed=5, out_dir=folder)
    return folder


@pytest.fixture(scope="module")
def data(city: Path) -> TrainingData:
    return data_from_sources(read_sources(city))


@pytest.fixture(scope="module")
def registry(data: TrainingData, tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingSettings, str]:
    """A store with a champion (version 1), trained and promoted."""
    settings = TrainingSettings(
        data_dir=tmp_path_factory.mktemp("store"), gate_max_tpr_gap=1.0, gate_max_tpr_gap_county=1.0
    )
    outcome = train_and_register(data, settings, FAST, backtest=False)
    assert outcome.version == "1"
    result = promote(MlflowClient(), settings, "1")
    assert result.passed, result.failures()
    # Every fairness attribute, household type among them, is judged with its chance level and its interval.
    fairness = {name: why for name, _, why in result.checks if name.startswith("fairness ")}
    # (an attribute with fewer than two groups holding enough positives has no gap to judge)
    assert set(fairness) <= {f"fairness {a}" for a in data.groups.columns}
    assert "fairness household_type" in fairness
    assert all("95 % interval" in why and "by chance alone" in why for why in fairness.values())
    return settings, "1"


def test_a_new_model_becomes_challenger_with_card_metrics_and_plots(
    data: TrainingData, registry: tuple[TrainingSettings, str]
) -> None:
    settings, _ = registry
    outcome = train_and_register(data, settings, FAST, backtest=False)
    client = MlflowClient()
    assert alias_version(client, settings.registered_model, CHALLENGER) == outcome.version
    assert alias_version(client, settings.registered_model, CHAMPION) == "1"
    run = client.get_run(outcome.run_id)
    artifacts = {a.path for a in client.list_artifacts(outcome.run_id)}
    assert {CARD_FILE, "data_fingerprint.json", "feature_catalogue.json", "fairness.csv"} <= artifacts
    plots = {a.path for a in client.list_artifacts(outcome.run_id, "plots")}
    assert {"plots/roc_pr.png", "plots/calibration.png", "plots/lift_vs_rules.png", "plots/shap_summary.png"} <= plots
    assert run.data.tags["synthetic_data"] == "true"
    assert run.data.tags["compared_with_champion_version"] == "1"
    for key in ("test_pr_auc", "test_ece", "rules_pr_auc", "lift_recall_at_5pct", "vs_champion_pr_auc_diff_ci_high"):
        assert key in run.data.metrics
    card = mlflow.artifacts.load_text(f"runs:/{outcome.run_id}/{CARD_FILE}")
    assert "human review" in card and "Synthetic data" in card


def test_the_gate_refuses_a_deliberately_worse_challenger(
    data: TrainingData, registry: tuple[TrainingSettings, str]
) -> None:
    settings, champion = registry
    rng = np.random.default_rng(0)
    shuffled = data.snapshots.copy()
    shuffled["label"] = rng.permutation(shuffled["label"].to_numpy())  # learns nothing real
    test_dates = shuffled["as_of"] == shuffled["as_of"].max()
    shuffled.loc[test_dates, "label"] = data.snapshots.loc[test_dates, "label"]  # judged on the truth
    worse = dataclasses.replace(data, snapshots=shuffled)
    outcome = train_and_register(worse, settings, FAST, backtest=False)
    client = MlflowClient()
    result = promote(client, settings, outcome.version)
    assert not result.passed
    assert any(name.startswith("versus champion") for name, ok, _ in result.checks if not ok)
    assert alias_version(client, settings.registered_model, CHAMPION) == champion
    # Forcing needs a reason, and the reason is recorded on the version.
    with pytest.raises(ValueError, match="reason"):
        promote(client, settings, outcome.version, force=True)
    promote(client, settings, outcome.version, force=True, reason="test: override recorded")
    tags = client.get_model_version(settings.registered_model, outcome.version).tags
    assert tags["forced_promotion_reason"] == "test: override recorded"
    promote(client, settings, champion, force=True, reason="test: restore")


def test_plain_mlflow_loads_the_champion_and_predicts_calibrated_probabilities(
    data: TrainingData, registry: tuple[TrainingSettings, str]
) -> None:
    settings, _ = registry
    mlflow.set_tracking_uri(settings.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.registered_model}@{CHAMPION}")
    from training.pipeline import load_registered

    model = load_registered(
        MlflowClient(), settings, alias_version(MlflowClient(), settings.registered_model, CHAMPION) or ""
    )
    sample = data.snapshots.tail(200)
    got = np.asarray(pyfunc.predict(sample[model.feature_names]))
    np.testing.assert_allclose(got, model.predict_proba(sample), atol=1e-12)
    assert ((got >= 0) & (got <= 1)).all()
    files = [p.name for p in Path(pyfunc.metadata.artifact_path or ".").rglob("*")]
    assert not any(name.endswith((".pkl", ".pickle")) for name in files)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.integration
def test_mlflow_models_serve_answers_invocations(data: TrainingData, registry: tuple[TrainingSettings, str]) -> None:
    settings, _ = registry
    port = _free_port()
    venv_bin = str(Path(sys.executable).parent)  # mlflow starts `uvicorn` from PATH
    env = dict(os.environ, MLFLOW_TRACKING_URI=settings.tracking_uri, PATH=f"{venv_bin}:{os.environ['PATH']}")
    mlflow_bin = str(Path(venv_bin) / "mlflow")
    server = subprocess.Popen(
        [
            mlflow_bin,
            "models",
            "serve",
            "-m",
            f"models:/{settings.registered_model}@{CHAMPION}",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(1)
        from training.pipeline import load_registered

        model = load_registered(MlflowClient(), settings, "1")
        sample = data.snapshots.tail(20)[model.feature_names]
        body = json.dumps({"dataframe_split": json.loads(sample.to_json(orient="split", index=False))})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
        np.testing.assert_allclose(np.asarray(answer["predictions"]), model.predict_proba(sample), atol=1e-9)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_challenger_without_the_champions_features_is_not_comparable(
    data: TrainingData, registry: tuple[TrainingSettings, str]
) -> None:
    settings, champion = registry
    dropped = data.features[0].name
    fewer = dataclasses.replace(
        data,
        snapshots=data.snapshots.drop(columns=[dropped]),
        features=tuple(f for f in data.features if f.name != dropped),
    )
    outcome = train_and_register(fewer, settings, FAST, backtest=False)
    client = MlflowClient()
    result = promote(client, settings, outcome.version)
    assert not result.passed
    failed = {name: detail for name, ok, detail in result.checks if not ok}
    assert failed["versus champion"].startswith("not comparable"), failed
    assert "nan" not in failed["versus champion"] and "inf" not in failed["versus champion"]
    assert alias_version(client, settings.registered_model, CHAMPION) == champion


def test_a_version_is_evaluated_only_on_the_label_it_was_trained_on(
    data: TrainingData, registry: tuple[TrainingSettings, str]
) -> None:
    from training.reevaluate import evaluate_version, version_label

    settings, champion = registry
    assert version_label(MlflowClient(), settings, champion) == "need_12m"  # the default label
    relabelled = dataclasses.replace(data, label="identified_12m")
    with pytest.raises(ValueError, match="trained on the label 'need_12m', the data has 'identified_12m'"):
        evaluate_version(relabelled, settings, champion)


def test_the_need_champion_carries_the_identification_model_relapse_train_would_fit(
    data: TrainingData, registry: tuple[TrainingSettings, str], city: Path
) -> None:
    """The companion is the identification model itself: the model `relapse train --label identified` fits on the
    same city, dates and split, signed and registered inside the need model's version."""
    from training.fit import fit_risk_model
    from training.pipeline import load_registered
    from training.split import latest_split

    settings, champion = registry
    model = load_registered(MlflowClient(), settings, champion)
    assert model.label == "need_12m" and model.identification is not None
    assert model.identification.label == "identified_12m"
    identified = data_from_sources(read_sources(city), label="identified_12m")
    split = latest_split(data.snapshots["as_of"], data.horizon_months)
    reference = fit_risk_model(identified.snapshots, identified.features, split, FAST).model
    sample = identified.snapshots.tail(500)
    np.testing.assert_array_equal(model.identification_proba(model.prepare(sample)), reference.predict_proba(sample))
    run = MlflowClient().get_run(MlflowClient().get_model_version(settings.registered_model, champion).run_id)
    assert 0.5 < run.data.metrics["identification_test_roc_auc"] <= 1
