"""`relapse monitor --from-service`: the scores the service stored, judged once their outcomes are known.

The served scores here are the champion's own scores of its held-out test households, stored as the service stores
them; so the realised figures must equal the figures of the training run, and the score drift must be nil. Scores
of a version the registry does not know, of a date whose outcomes are not all known yet, and scores shifted upward
show each limit of the check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from service.db import Database
from service.keys import Caller
from service.scope import Scope
from service.served_scores import served_scores
from service.store import ScoreInput, record_scores
from tests.service.api_support import Registered
from training.drift import psi
from training.metrics import expected_calibration_error, ranking_metrics
from training.monitor_served import monitor_served
from training.pipeline import load_registered
from training.registry import CHAMPION

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Served:
    version: str
    run_metrics: dict[str, float]
    reference_score: dict[str, Any]
    day: date  # the run's test date
    test: pd.DataFrame  # the run's test rows: household_id, region_code, as_of, label
    p: np.ndarray


@pytest.fixture(scope="module")
def served(registered: Registered) -> Served:
    client = MlflowClient(tracking_uri=registered.tracking_uri, registry_uri=registered.tracking_uri)
    name = registered.settings.registered_model
    version = str(client.get_model_version_by_alias(name, CHAMPION).version)
    run = client.get_run(str(client.get_model_version(name, version).run_id))
    test_date = pd.Timestamp(run.data.params["split_test"])
    snapshots = registered.data.snapshots
    test = snapshots[pd.to_datetime(snapshots["as_of"]) == test_date].reset_index(drop=True)
    p = load_registered(client, registered.settings, version).predict_proba(test)
    import mlflow

    mlflow.set_tracking_uri(registered.tracking_uri)
    reference = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/reference_distributions.json")
    return Served(version, dict(run.data.metrics), reference["score"], test_date.date(), test, p)


def store(db: Database, rows: pd.DataFrame, p: np.ndarray, version: str, as_of: date) -> None:
    inputs = [
        ScoreInput(
            household_pseudonym=str(row.household_id),
            region_code=str(row.region_code),
            as_of=as_of,
            model_version=version,
            probability=float(prob),
            level="high" if prob >= 0.1 else "low",
            input_hash=f"sha256:{i:064x}",
        )
        for i, (row, prob) in enumerate(zip(rows.itertuples(), p, strict=True))
    ]
    with db.session() as session:
        record_scores(session, Scope.everything(), Caller.local_operator(), inputs)


def test_a_household_scored_twice_for_one_date_by_one_version_counts_once_with_its_latest_score(db: Database) -> None:
    rows = pd.DataFrame({"household_id": ["H1", "H2"], "region_code": ["990101001001"] * 2})
    day = date(2024, 1, 1)
    store(db, rows, np.array([0.2, 0.3]), "4", day)
    store(db, rows.iloc[:1], np.array([0.9]), "4", day)  # H1 again: a re-run after a fix
    store(db, rows.iloc[:1], np.array([0.5]), "5", day)  # H1 by another version: judged with that version
    store(db, rows.iloc[:1], np.array([0.7]), "4", date(2024, 4, 1))  # another date
    with db.session() as session:
        every = served_scores(session)
        first_day = served_scores(session, since=day, until=day, version="4")
    got = {(r.household_id, str(r.as_of)[:10], r.model_version): r.probability for r in every.itertuples()}
    assert got == {
        ("H1", "2024-01-01", "4"): 0.9,
        ("H2", "2024-01-01", "4"): 0.3,
        ("H1", "2024-01-01", "5"): 0.5,
        ("H1", "2024-04-01", "4"): 0.7,
    }
    assert sorted(first_day["probability"]) == [0.3, 0.9]


def test_the_champions_stored_test_scores_give_its_training_figures_and_no_drift(
    served: Served, registered: Registered, db: Database, county_folder: Path
) -> None:
    as_of = served.day
    store(db, served.test, served.p, served.version, as_of)
    others = served.test.iloc[:400]
    store(db, others, served.p[:400], "77", as_of)  # a version the registry does not know
    late = date(2099, 1, 1)  # the outcomes of this date are not known yet
    store(db, served.test.iloc[:5], served.p[:5], served.version, late)
    with db.session() as session:
        scores = served_scores(session)

    from features.reading.sources import read_sources

    later = read_sources(county_folder / "city")
    checks = {c.version: c for c in monitor_served(registered.settings, scores, later, "need_12m", period="all")}
    assert set(checks) == {served.version, "77"}

    mine = checks[served.version]
    assert mine.realised is not None and mine.drift is not None
    assert mine.labelled == len(served.test) and mine.incomplete_dates == ["2099-01-01"]
    assert mine.scored == len(served.test) + 5
    # The same households, probabilities and labels as the run's test set: the same figures, to rounding.
    for metric in ("pr_auc", "recall_at_5pct", "ece"):
        assert mine.realised.figures[metric] == pytest.approx(served.run_metrics[f"test_{metric}"], abs=1e-9), metric
        assert mine.realised.verdict(metric) == "as at training"
    assert mine.realised.positives == int(served.test["label"].sum())
    # Drift: the test scores themselves are the reference, except five late rows; by hand with the reference bins.
    bins = np.searchsorted(served.reference_score["edges"], np.r_[served.p, served.p[:5]], side="left")
    later_counts = [*np.bincount(bins, minlength=len(served.reference_score["edges"]) + 1).tolist(), 0]
    assert mine.drift.score == pytest.approx(psi(served.reference_score["counts"], later_counts))
    assert mine.drift.score < 0.01

    unknown = checks["77"]
    assert unknown.drift is None and unknown.realised is not None and unknown.labelled == 400
    y = served.test["label"].iloc[:400].to_numpy(int)
    assert unknown.realised.figures["pr_auc"] == pytest.approx(ranking_metrics(y, served.p[:400])["pr_auc"])
    weights = served.test["weight"].iloc[:400].to_numpy(float)  # need's observation weights, as at training
    assert unknown.realised.figures["ece"] == pytest.approx(
        expected_calibration_error(y, served.p[:400], weights=weights)
    )
    assert unknown.realised.figures["ece"] != pytest.approx(expected_calibration_error(y, served.p[:400]))

    # Without a label each version is judged on its own: the champion was trained on need, the default.
    own = monitor_served(
        registered.settings, scores[scores["model_version"] == served.version], later, None, period="own"
    )
    assert [c.version for c in own] == [served.version] and own[0].realised is not None
    for metric in ("pr_auc", "recall_at_5pct", "ece"):
        assert own[0].realised.figures[metric] == pytest.approx(mine.realised.figures[metric], abs=1e-12), metric

    client = MlflowClient(tracking_uri=registered.tracking_uri)
    run = client.get_run(mine.run_id)
    assert run.data.tags["monitor_source"] == "service" and run.data.tags["monitor_of_version"] == served.version
    assert run.data.metrics["realised_pr_auc"] == pytest.approx(served.run_metrics["test_pr_auc"], abs=1e-9)
    assert "drift_features_act" not in run.data.metrics  # no features among stored scores: no count of none


def test_scores_served_three_times_too_high_drift_past_the_act_level(served: Served, registered: Registered) -> None:
    scores = pd.DataFrame(
        {
            "household_id": served.test["household_id"].astype(str),
            "as_of": pd.to_datetime(served.test["as_of"]),
            "model_version": served.version,
            "probability": np.clip(served.p * 3, 0, 1),
        }
    )
    (check,) = monitor_served(registered.settings, scores, None, "identified_12m", period="shifted")
    assert check.realised is None and check.drift is not None and check.drift.score >= 0.25


def relapse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("relapse")), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_command_prints_each_versions_figures_and_refuses_a_mixed_call(
    served: Served, registered: Registered, db: Database, county_folder: Path, tmp_path: Path
) -> None:
    as_of = served.day
    store(db, served.test, served.p, served.version, as_of)
    env = {
        "RELAPSE_DATA_DIR": str(registered.store),
        "RELAPSE_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        **registered.signing_env,
    }
    env.pop("RELAPSE_DEBUG", None)
    args = ["monitor", "--from-service", "--since", str(as_of), "--until", str(as_of)]
    done = relapse(env, *args, "--labels", str(county_folder / "city"))
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, said
    assert f"version {served.version}: {len(served.test):,} stored scores" in said
    assert f"{served.run_metrics['test_pr_auc']:.4f}" in said and "score drift against training: PSI 0.000" in said

    mixed = relapse(env, *args, "--profiles", "x.csv")
    assert mixed.returncode == 2 and "drop --profiles" in mixed.stderr and "Traceback" not in mixed.stderr
    empty = relapse(env, "monitor", "--from-service", "--since", "2099-01-01")
    assert empty.returncode == 2 and "no scores with as_of in 2099-01-01..end" in empty.stderr
