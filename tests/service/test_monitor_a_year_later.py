"""`relapse monitor --data` on a demo city a year later: a model trained on 2019–2025, the same city extended by
2026, then drift and the realised figures the new year's outcomes allow — in MLflow as a yearly series, and on
the model report."""

# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from mlflow import MlflowClient
from sklearn.metrics import average_precision_score

from features.reading.sources import Sources, read_sources
from features.simulation import CityConfig, simulate_city
from features.simulation.extend import extend_city
from models.signing import signing_key
from service.app import create_app
from service.db import Database
from service.model_holder import ModelHolder, RegistrySource
from service.reports.i18n import catalogue
from service.tables import Role
from tests.service.api_support import KEY, bearer, service_settings
from training.drift import ACT, WATCH
from training.fit import TrainConfig
from training.labels import build_snapshots
from training.monitor import stored_reference
from training.monitor_city import CityMonitor, check_date, monitor_city
from training.pipeline import data_from_sources, load_registered, train_and_register
from training.registry import promote
from training.settings import TrainingSettings

pytestmark = pytest.mark.slow  # two cities, a training and three scorings of a year's households

FAST = TrainConfig(num_boost_round=60, early_stopping_rounds=20)
YEAR_LATER, TWO_YEARS_LATER = pd.Timestamp("2026-01-01"), pd.Timestamp("2027-01-01")
COUNTY = "990101"


@dataclass(frozen=True)
class YearLater:
    store: Path
    settings: TrainingSettings
    first: Sources
    later: Sources
    later_folder: Path
    done: CityMonitor


@pytest.fixture(scope="module")
def year_later(tmp_path_factory: pytest.TempPathFactory) -> YearLater:
    first_folder = tmp_path_factory.mktemp("city-2025")
    simulate_city(CityConfig(households=3_000), seed=23, out_dir=first_folder)
    first = read_sources(first_folder)
    store = tmp_path_factory.mktemp("store")
    settings = TrainingSettings(data_dir=store)
    # the identification label: its outcome is read straight from the identifications table below
    outcome = train_and_register(data_from_sources(first, label="identified_12m"), settings, FAST, backtest=False)
    promote(MlflowClient(tracking_uri=settings.tracking_uri), settings, str(outcome.version), force=True, reason="t")
    later_folder = tmp_path_factory.mktemp("city") / "2026"
    extend_city(first_folder, later_folder)
    later = read_sources(later_folder)
    return YearLater(store, settings, first, later, later_folder, monitor_city(settings, later, None))


def test_each_year_after_the_test_date_is_checked_and_judged_once_its_outcomes_are_in(year_later: YearLater) -> None:
    done = year_later.done
    assert (done.version, done.label, done.test_as_of) == ("1", "identified_12m", pd.Timestamp("2025-01-01"))
    assert [(c.as_of, c.step, c.window_open) for c in done.checks] == [
        (YEAR_LATER, 1, False),
        (TWO_YEARS_LATER, 2, True),  # the extract ends on this date: its year's outcomes are not known yet
    ]
    judged, open_ = done.checks
    assert judged.realised is not None and open_.realised is None
    assert judged.drift is not None and open_.drift is not None


def test_the_realised_figures_are_sklearns_on_the_households_the_new_year_labels(year_later: YearLater) -> None:
    judged = year_later.done.checks[0]
    assert judged.realised is not None
    # The outcome, from the raw table: identified in 2026, among the households not under monitoring on 1 January.
    ids = year_later.later["identifications"]
    when = pd.to_datetime(ids["identified_date"])
    ends = pd.to_datetime(ids["elimination_date"])
    monitored = set(ids.loc[(when < YEAR_LATER) & (ends.isna() | (ends >= YEAR_LATER)), "household_id"])
    identified = set(ids.loc[(when >= YEAR_LATER) & (when < TWO_YEARS_LATER), "household_id"])
    # The first extract could not have known them: it ends where the window starts.
    assert (pd.to_datetime(year_later.first["identifications"]["identified_date"]) < YEAR_LATER).all()

    rows = build_snapshots(year_later.later, [YEAR_LATER], "identified_12m")
    assert not set(rows["household_id"]) & monitored
    assert set(rows.loc[rows["label"] == 1, "household_id"]) == identified - monitored
    y = rows["label"].to_numpy(int)
    client = MlflowClient(tracking_uri=year_later.settings.tracking_uri)
    p = load_registered(client, year_later.settings, "1").predict_proba(rows)
    assert (judged.realised.rows, judged.realised.positives) == (len(rows), len(identified - monitored))
    assert judged.realised.figures["pr_auc"] == pytest.approx(average_precision_score(y, p))
    top = np.argsort(-p, kind="stable")[: int(np.ceil(0.05 * len(p)))]
    assert judged.realised.figures["recall_at_5pct"] == pytest.approx(y[top].sum() / y.sum())
    chunks = np.array_split(np.argsort(p, kind="stable"), 15)
    ece = sum(len(c) / len(p) * abs(y[c].mean() - p[c].mean()) for c in chunks)
    assert judged.realised.figures["ece"] == pytest.approx(ece)
    # beside the figures of the version's training run
    training = client.get_run(str(client.get_model_version("relapse-risk", "1").run_id)).data.metrics
    assert judged.realised.at_training["pr_auc"] == training["test_pr_auc"]


def test_an_unchanged_feature_stays_stable_and_a_shifted_one_reaches_the_act_level(year_later: YearLater) -> None:
    judged = year_later.done.checks[0]
    assert judged.drift is not None
    # Land is recorded once per household and never changes in the city: no drift beyond sampling.
    assert judged.drift.features["land_area_mu"] < WATCH
    households = year_later.later["households"]
    shifted = dataclasses.replace(
        year_later.later,
        tables={
            **year_later.later.tables,
            "households": households.assign(land_area_mu=households["land_area_mu"] * 4),
        },
    )
    client = MlflowClient(tracking_uri=year_later.settings.tracking_uri)
    model = load_registered(client, year_later.settings, "1")
    run_id = client.get_model_version("relapse-risk", "1").run_id
    again = check_date(shifted, model, "identified_12m", YEAR_LATER, 1, False, stored_reference(run_id), {})
    assert again.drift is not None and again.drift.features["land_area_mu"] >= ACT
    # the other features are the same households' same records
    assert again.drift.features["head_age"] == pytest.approx(judged.drift.features["head_age"])


def test_mlflow_holds_the_checks_as_a_yearly_series(year_later: YearLater) -> None:
    client = MlflowClient(tracking_uri=year_later.settings.tracking_uri)
    run = client.get_run(year_later.done.run_id)
    assert run.data.tags["monitor_of_version"] == "1" and run.data.tags["monitor_source"] == "data"
    score = client.get_metric_history(year_later.done.run_id, "psi_score")
    assert [(m.step, pd.Timestamp(m.timestamp, unit="ms")) for m in score] == [(1, YEAR_LATER), (2, TWO_YEARS_LATER)]
    assert [m.value for m in score] == pytest.approx([c.drift.score for c in year_later.done.checks if c.drift])
    realised = client.get_metric_history(year_later.done.run_id, "realised_pr_auc")
    judged = year_later.done.checks[0].realised
    assert judged is not None
    assert [(m.step, m.value) for m in realised] == [(1, pytest.approx(judged.figures["pr_auc"]))]


@pytest.fixture
def report_client(year_later: YearLater, db: Database, tmp_path: Path) -> Iterator[TestClient]:
    holder = ModelHolder(
        RegistrySource(year_later.settings.tracking_uri), tmp_path / "cache", signing_key(year_later.store)
    )
    holder.start()
    app = create_app(service_settings(tmp_path, db), holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app) as client:
        yield client


def test_the_model_report_shows_the_realised_figures_and_the_alert_levels(
    year_later: YearLater, report_client: TestClient, db: Database
) -> None:
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    en, zh = catalogue("en"), catalogue("zh")
    html = report_client.get("/reports/model?lang=en", headers=headers).text
    assert en["model.realised"] in html
    judged = year_later.done.checks[0].realised
    assert judged is not None
    low, high = judged.intervals["pr_auc"]
    assert f"{judged.figures['pr_auc']:.3f} ({low:.3f}–{high:.3f})" in html
    assert str(escape(en["model.realised.open"])) in html  # 2027: drift only
    drift = year_later.done.checks[0].drift
    assert drift is not None and f"{drift.score:.3f}" in html
    assert (
        str(escape(en["model.realised_note"].format(extract="2027-01-01", test="2025-01-01", watch=WATCH, act=ACT)))
        in html
    )
    chinese = report_client.get("/reports/model?lang=zh", headers=headers).text
    assert zh["model.realised"] in chinese and zh["model.realised.open"] in chinese
    assert f"{judged.figures['pr_auc']:.3f}（{low:.3f}–{high:.3f}）" in chinese


def test_the_command_prints_the_checks_and_refuses_a_mixed_call(year_later: YearLater) -> None:
    env = {**os.environ, "RELAPSE_DATA_DIR": str(year_later.store)}
    env.pop("RELAPSE_DEBUG", None)
    run = [sys.executable, "-m", "relapse", "monitor", "--data", str(year_later.later_folder)]
    done = subprocess.run(run, capture_output=True, text=True, env={**env, "COLUMNS": "160"})
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout + done.stderr  # the console writes to stderr
    judged = year_later.done.checks[0].realised
    assert judged is not None
    assert "as_of 2026-01-01 (1 year(s) after the test date" in printed
    assert f"{judged.figures['pr_auc']:.4f}" in printed
    assert "as_of 2027-01-01 (2 year(s) after the test date" in printed and "drift only" in printed
    mixed = subprocess.run([*run, "--label", "identified"], capture_output=True, text=True, env=env)
    assert mixed.returncode == 2 and "Traceback" not in mixed.stderr
    assert "--data judges a source folder with the version's own label" in " ".join(mixed.stderr.split())
