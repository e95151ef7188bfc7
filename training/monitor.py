"""Realised performance once labels arrive (`relapse monitor`): a registered model on later, labelled rows.

A model is judged at training on one held-out period. Once the outcomes of the rows it scored are known (a year
later for a 12-month label), the same figures — PR-AUC, recall among the top 5 %, expected calibration error —
are computed on those rows with bootstrap intervals and set beside the figures of the version's training run.
Each check is logged as an MLflow run of its own (tagged with the model and version), so that the runs of one
model over time are its performance series.

Beside the figures, the drift of the table's features and of the scores against the reference distributions the
training run stored (training.drift) is computed and logged to the same run: drift needs no labels and shows a
change before the outcomes that confirm it arrive.

A figure is called changed only when its realised 95 % interval and its training interval do not overlap: both
come from samples of a few thousand rows at most, and a drift smaller than their noise is not a signal to act on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from features.profiles.spec import FeatureSpec as TableSpec
from features.profiles.spec import FeatureSpecEntry, apply_feature_spec, read_feature_spec
from models.risk_model import RiskModel
from training.byod import ProfileTableError, parse_label, read_profile_table
from training.drift import REFERENCE_FILE, Drift, drift_against
from training.metrics import bootstrap_ci, expected_calibration_error, ranking_metrics, recall_at
from training.pipeline import load_registered
from training.registry import CHALLENGER, CHAMPION, alias_version
from training.settings import TrainingSettings
from training.tracking import configure

MONITORED: Final = ("pr_auc", "recall_at_5pct", "ece")
LOWER_IS_BETTER: Final = frozenset({"ece"})


@dataclass(frozen=True)
class Realised:
    """The figures on the later rows beside the figures at training (NaN where the run has none)."""

    rows: int
    positives: int
    figures: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    at_training: dict[str, float]
    training_intervals: dict[str, tuple[float, float]]

    def verdict(self, metric: str) -> str:
        """'worse', 'better' or 'as at training' (intervals overlap, or no training figure to compare with)."""
        low, high = self.intervals[metric]
        t_low, t_high = self.training_intervals.get(metric, (np.nan, np.nan))
        if np.isnan(t_low) or np.isnan(t_high):
            return "as at training"
        if high < t_low:
            return "better" if metric in LOWER_IS_BETTER else "worse"
        if low > t_high:
            return "worse" if metric in LOWER_IS_BETTER else "better"
        return "as at training"

    def flat(self) -> dict[str, float]:
        """MLflow metric names: realised_<m>, realised_<m>_ci_low/_high, training_<m>."""
        out: dict[str, float] = {"rows": float(self.rows), "positives": float(self.positives)}
        for metric in MONITORED:
            out[f"realised_{metric}"] = self.figures[metric]
            out[f"realised_{metric}_ci_low"], out[f"realised_{metric}_ci_high"] = self.intervals[metric]
            out[f"training_{metric}"] = self.at_training.get(metric, np.nan)
        return {k: v for k, v in out.items() if v == v}


def realised_performance(
    y: np.ndarray,
    p: np.ndarray,
    training_metrics: dict[str, float],
    *,
    seed: int = 0,
    n_boot: int = 200,
    weights: np.ndarray | None = None,
) -> Realised:
    """The monitored figures of scores `p` against the outcomes `y`, beside a training run's `test_*` metrics.
    `weights` (need_12m's inverse-observation weights) weight the ECE, as training's evaluation does."""
    y = np.asarray(y, dtype=int)
    if y.min() == y.max():
        raise ProfileTableError(f"the labelled rows hold only label {int(y[0])}: performance needs both outcomes")
    w = None if weights is None else np.asarray(weights, dtype=float)
    ranking = {
        "pr_auc": lambda a, b: ranking_metrics(a, b)["pr_auc"],
        "recall_at_5pct": lambda a, b: recall_at(a, b, 0.05),
    }
    figures = {m: float(f(y, p)) for m, f in ranking.items()}
    intervals = {m: bootstrap_ci(y, p, f, n_boot=n_boot, seed=seed) for m, f in ranking.items()}
    figures["ece"] = expected_calibration_error(y, p, weights=w)
    intervals["ece"] = bootstrap_ci(y, p, expected_calibration_error, n_boot=n_boot, seed=seed, weights=w)
    nan = float("nan")
    at_training = {m: training_metrics.get(f"test_{m}", nan) for m in MONITORED}
    training_intervals = {
        m: (training_metrics.get(f"test_{m}_ci_low", nan), training_metrics.get(f"test_{m}_ci_high", nan))
        for m in MONITORED
    }
    return Realised(len(y), int(y.sum()), figures, intervals, at_training, training_intervals)


def monitored_version(client: MlflowClient, name: str, version: str | None) -> str:
    """The version asked for, else the champion, else the challenger."""
    chosen = version or alias_version(client, name, CHAMPION) or alias_version(client, name, CHALLENGER)
    if chosen is None:
        raise ProfileTableError(f"--model-name {name}: no champion or challenger to monitor; pass --version")
    return chosen


def labelled_rows(
    model: RiskModel, table: Path, spec: Path | None, label: str | None
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The table's feature columns as the model reads them, and its 0/1 outcomes (None without a label).

    The spec the model was trained with reads the table as at training (value maps, missing codes); without
    one the columns are read by the model's own feature types with the default parsing."""
    frame = read_profile_table(table)
    if label is not None and label not in frame.columns:
        raise ProfileTableError(f"--label: the table has no column {label!r}")
    absent = [n for n in model.feature_names if n not in frame.columns]
    if absent:
        raise ProfileTableError(f"{table.name} lacks the model's feature column(s) {', '.join(absent)}")
    table_spec = read_feature_spec(spec) if spec is not None else _spec_of(model)
    wanted = [e for e in table_spec.features if e.name in model.feature_names]
    missing = [n for n in model.feature_names if n not in {e.name for e in wanted}]
    if missing:
        raise ProfileTableError(f"the spec does not describe the model's feature(s) {', '.join(missing)}")
    parsed = apply_feature_spec(frame, replace(table_spec, features=tuple(wanted), id_columns=()))
    return parsed, None if label is None else parse_label(frame[label], label, table).to_numpy(int)


def log_realised(
    realised: Realised | None, name: str, version: str, source: str, experiment_id: str, drift: Drift | None = None
) -> str:
    """One MLflow run per check, tagged with the model and version it watches; returns the run id."""
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"monitor {name} v{version}") as run:
        mlflow.set_tags({"monitor_of_model": name, "monitor_of_version": version, "kind": "monitor"})
        mlflow.log_params({"model": name, "version": version, "table": source})
        if realised is not None:
            mlflow.log_metrics(realised.flat())
            mlflow.set_tags({f"verdict_{m}": realised.verdict(m) for m in MONITORED})
        if drift is not None:
            mlflow.log_metrics(drift.flat())
            mlflow.log_dict({"score": drift.score, "features": drift.features}, "drift.json")
        return run.info.run_id


def stored_reference(run_id: str | None) -> dict[str, Any] | None:
    """The reference distributions a training run stored, or None for a run from before they were stored."""
    if not run_id:
        return None
    try:
        loaded: dict[str, Any] = mlflow.artifacts.load_dict(f"runs:/{run_id}/{REFERENCE_FILE}")
    except (MlflowException, OSError):
        return None
    return loaded


def monitor(
    settings: TrainingSettings, table: Path, spec: Path | None, label: str | None, version: str | None, seed: int = 0
) -> tuple[str, Realised | None, str, Drift | None]:
    """(version, realised figures or None without a label, monitor run id, drift or None without a stored
    reference) of a registered model on a table of later rows."""
    experiment_id = configure(settings)
    client = MlflowClient()
    name = settings.registered_model
    chosen = monitored_version(client, name, version)
    model = load_registered(client, settings, chosen)
    rows, y = labelled_rows(model, table, spec, label)
    run_id = client.get_model_version(name, chosen).run_id
    training = client.get_run(run_id).data.metrics if run_id else {}
    scores = model.predict_proba(rows)
    realised = realised_performance(y, scores, training, seed=seed) if y is not None else None
    reference = stored_reference(run_id)
    if realised is None and reference is None:
        raise ProfileTableError(
            f"version {chosen} has no reference distributions stored at training: pass --label to monitor performance"
        )
    drift = drift_against(reference, rows, scores) if reference is not None else None
    return chosen, realised, log_realised(realised, name, chosen, table.name, experiment_id, drift), drift


def _spec_of(model: RiskModel) -> TableSpec:
    entries = []
    for feature in model.features:
        parse = {"categories": list(feature.categories)} if feature.kind == "category" else {}
        entries.append(FeatureSpecEntry(feature.name, feature.kind, parse=parse))
    return TableSpec(tuple(entries), ())
