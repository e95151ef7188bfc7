"""Realised performance and drift of the scores the service actually served (`relapse monitor --from-service`).

`training.monitor` re-scores a later table with a registered model; this module judges the probabilities that
were stored when households were scored (`service.served_scores`), so what is measured is what officials saw,
by whichever versions served in the period. Each version is judged on its own households:

- drift: the PSI of its served scores against the score distribution stored with its training run
  (`training.drift`), which needs no labels;
- realised figures, once the outcomes are known: the labels are built from a later source folder with the same
  definitions training uses (`training.labels.build_snapshots` as of each scored date), so the households
  already under monitoring on that date are left out as at training, and a date whose label window runs past
  the folder's extract date is left out and named (its outcomes are not all known yet).

A need model's ECE is weighted with the need label's observation weights, as at training
(`training.evaluate`); the ranking figures count every observed household once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from features.reading.sources import Sources
from models.outcomes import LEGACY_LABEL
from training.drift import Drift, drift_against
from training.labels import LABELS, Label, build_snapshots
from training.monitor import Realised, log_realised, realised_performance, stored_reference
from training.observation import WEIGHT_COLUMN
from training.settings import TrainingSettings
from training.tracking import configure

HORIZON_MONTHS = 12


@dataclass(frozen=True)
class ServedCheck:
    """One model version's served scores in the period: drift, realised figures, and what was left out."""

    version: str
    scored: int  # (household, as_of) pairs the version scored
    first_as_of: str
    last_as_of: str
    drift: Drift | None  # None: the version's training run stored no reference distributions
    realised: Realised | None  # None: no labels given, or none of the version's dates has complete labels
    labelled: int = 0  # scored pairs with a known outcome
    incomplete_dates: list[str] = field(default_factory=list)  # as_of dates whose label window is still open
    run_id: str = ""


def served_drift(reference: dict[str, Any] | None, scores: np.ndarray) -> Drift | None:
    """The PSI of served scores against the score distribution of a training run's stored reference (features:
    none, the service stores none)."""
    if reference is None:
        return None
    return drift_against(reference, pd.DataFrame(index=range(len(scores))), scores)


def complete_dates(dates: list[pd.Timestamp], sources: Sources) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    """(dates whose label window ends inside the folder's data, dates whose window is still open)."""
    extract = sources.manifest.get("extract_date")
    if not extract:  # a folder without an extract date: its records are taken as complete (assumed)
        return dates, []
    end = pd.Timestamp(extract)
    done = [d for d in dates if d + pd.DateOffset(months=HORIZON_MONTHS) <= end]
    return done, [d for d in dates if d not in done]


def outcomes(sources: Sources, dates: list[pd.Timestamp], label: Label) -> pd.DataFrame:
    """household_id, as_of and the 0/1 `label` of every household eligible for the label as of each date, with
    the label's observation `weight` where it has one (need_12m)."""
    if not dates:
        return pd.DataFrame({"household_id": [], "as_of": pd.to_datetime([]), "label": []})
    snapshots = build_snapshots(sources, dates, label)
    columns = ["household_id", "as_of", "label", *([WEIGHT_COLUMN] if WEIGHT_COLUMN in snapshots else [])]
    frame = snapshots.loc[:, columns].copy()
    frame["household_id"] = frame["household_id"].astype(str)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


def check_version(
    version: str,
    scores: pd.DataFrame,
    reference: dict[str, Any] | None,
    known: pd.DataFrame | None,
    open_dates: list[pd.Timestamp],
    training_metrics: dict[str, float],
    *,
    seed: int = 0,
) -> ServedCheck:
    """Drift and, where outcomes are known, realised figures of one version's served scores."""
    dates = sorted(pd.to_datetime(scores["as_of"]).unique())
    drift = served_drift(reference, scores["probability"].to_numpy(float))
    realised, labelled = None, 0
    if known is not None:
        joined = scores.assign(household_id=scores["household_id"].astype(str)).merge(
            known, on=["household_id", "as_of"], how="inner"
        )
        labelled = len(joined)
        y = joined["label"].to_numpy(int)
        if labelled and y.min() != y.max():
            weights = joined[WEIGHT_COLUMN].to_numpy(float) if WEIGHT_COLUMN in joined else None
            p = joined["probability"].to_numpy(float)
            realised = realised_performance(y, p, training_metrics, seed=seed, weights=weights)
    mine = [str(d.date()) for d in open_dates if d in set(pd.to_datetime(scores["as_of"]))]
    return ServedCheck(
        version,
        len(scores),
        str(pd.Timestamp(dates[0]).date()),
        str(pd.Timestamp(dates[-1]).date()),
        drift,
        realised,
        labelled,
        mine,
    )


def monitor_served(
    settings: TrainingSettings,
    scores: pd.DataFrame,
    later: Sources | None,
    label: Label | None,
    *,
    period: str,
    seed: int = 0,
) -> list[ServedCheck]:
    """One check per model version among `scores` (`service.served_scores.served_scores`), oldest version first,
    each logged as a monitor run of its own (tag `monitor_source=service`). Realised figures use `label`, or,
    when it is None, each version's own (the label it was trained on, `LEGACY_LABEL` for a run without one)."""
    if scores.empty:
        return []
    experiment_id = configure(settings)
    client = MlflowClient()
    name = settings.registered_model
    known: dict[str, pd.DataFrame] = {}  # outcomes by label, built once each
    done: list[pd.Timestamp] = []
    open_dates: list[pd.Timestamp] = []
    if later is not None:
        dates = sorted(pd.Timestamp(d) for d in pd.to_datetime(scores["as_of"]).unique())
        done, open_dates = complete_dates(dates, later)
    checks = []
    versions = sorted(scores["model_version"].astype(str).unique(), key=lambda v: (len(v), v))
    for version in versions:
        mine = scores[scores["model_version"].astype(str) == version]
        run_id = _run_of(client, name, version)
        run = client.get_run(run_id) if run_id else None
        training = run.data.metrics if run is not None else {}
        judged = label or _own_label(run)
        if later is not None and judged is not None and judged not in known:
            known[judged] = outcomes(later, done, judged)
        truth = known.get(judged) if judged is not None else None
        check = check_version(version, mine, stored_reference(run_id), truth, open_dates, training, seed=seed)
        logged = log_realised(check.realised, name, version, f"service scores {period}", experiment_id, check.drift)
        client.set_tag(logged, "monitor_source", "service")
        checks.append(replace(check, run_id=logged))
    return checks


def _own_label(run: Any) -> Label | None:
    """The label a version's training run built (`LEGACY_LABEL` for a run that names none); None for a label from
    the user's own profile table, which a source folder cannot rebuild."""
    named = (run.data.params.get("label") if run is not None else None) or LEGACY_LABEL
    return next((label for label in LABELS if label == named), None)


def _run_of(client: MlflowClient, name: str, version: str) -> str | None:
    """The training run of a registered version; None for a version the registry does not know."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, version).run_id
    except MlflowException:
        return None
