"""K-fold cross-validation for small tables (`relapse train --cv K`): how much the test figures move with the split.

On a table of a few thousand rows one test period holds a few dozen positives, and its PR-AUC depends on which
rows happened to land in it. K folds give K test figures; their mean and spread say what one figure cannot.
The model that is registered is still the one fitted on the usual split (training.pipeline); the folds only
measure.

- With reference dates: forward chaining. Fold i tests on one of the latest K dates, validates on the date
  before it and trains on everything earlier, purged by the label horizon exactly as the usual split
  (training.split.rolling_origin): no fold learns from its future.
- Without (a random split, training.byod): households are dealt into K folds stratified by label, all rows of a
  household in one fold (scikit-learn's StratifiedGroupKFold, shuffled with the run's seed). Fold i tests on
  fold i, validates (early stopping, calibration) on fold i + 1 and trains on the rest.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import mlflow
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from training.fit import FitResult, TrainConfig, fit_risk_model
from training.metrics import ranking_metrics
from training.pipeline import TrainingData
from training.split import TimeSplit, rolling_origin

METRICS: Final = ("roc_auc", "pr_auc", "recall_at_5pct", "ece", "brier")
# Pseudo reference dates of a random fold's train / validation / test rows (as training.byod marks its split).
_PSEUDO: Final = (pd.Timestamp("1900-01-01"), pd.Timestamp("1900-01-02"), pd.Timestamp("1900-01-03"))


class CrossValidationError(ValueError):
    """The table cannot be cut into the folds asked for; the message says why and what to try."""


@dataclass(frozen=True)
class Fold:
    snapshots: pd.DataFrame  # the rows; for random folds `as_of` marks train / validation / test
    split: TimeSplit
    test_rows: np.ndarray  # positions of the test rows in the table


@dataclass(frozen=True)
class CrossValidation:
    folds: pd.DataFrame  # one row per fold: fold, test, rows, positives and METRICS
    predictions: pd.DataFrame  # out-of-fold: row position, fold, label, probability

    def summary(self) -> dict[str, tuple[float, float]]:
        """Mean and sample standard deviation of each metric over the folds."""
        return {m: (float(self.folds[m].mean()), float(self.folds[m].std(ddof=1))) for m in METRICS}

    def flat(self) -> dict[str, float]:
        """`cv_<metric>_mean` / `cv_<metric>_sd`, as logged to MLflow."""
        out = {}
        for metric, (mean, sd) in self.summary().items():
            out[f"cv_{metric}_mean"], out[f"cv_{metric}_sd"] = mean, sd
        return out


def log_cross_validation(result: CrossValidation, run_id: str) -> None:
    """Add the folds to a training run: mean and sd per metric, each fold as a step, the table as a CSV."""
    with mlflow.start_run(run_id=run_id):
        mlflow.log_param("cv_folds", len(result.folds))
        mlflow.log_metrics(result.flat())
        for step, row in enumerate(result.folds.to_dict("records"), 1):
            mlflow.log_metrics({f"cv_{m}": float(row[m]) for m in METRICS}, step=step)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cv_folds.csv"
            result.folds.to_csv(path, index=False)
            mlflow.log_artifact(str(path))


def cv_folds(data: TrainingData, k: int, seed: int) -> list[Fold]:
    """The K folds of `data`: forward chaining over its dates, or stratified household folds without dates."""
    if k < 2:
        raise CrossValidationError(f"--cv {k}: cross-validation needs at least 2 folds")
    snapshots = data.snapshots.reset_index(drop=True)
    folds = _random_folds(snapshots, k, seed) if data.random_split else _time_folds(snapshots, k, data.horizon_months)
    for number, fold in enumerate(folds, 1):
        for part, mask in (("validation", fold.split.valid_mask), ("test", fold.split.test_mask)):
            labels = fold.snapshots.loc[mask(fold.snapshots), "label"]
            if labels.nunique() < 2:
                raise CrossValidationError(
                    f"--cv {k}: fold {number}'s {part} rows ({len(labels)}) hold only label "
                    f"{int(labels.iloc[0]) if len(labels) else '—'}; use fewer folds"
                )
    return folds


def cross_validate(
    data: TrainingData,
    k: int,
    config: TrainConfig,
    fit_model: Callable[..., FitResult] = fit_risk_model,
) -> CrossValidation:
    """Fit and test one model per fold; the per-fold figures and the out-of-fold probabilities."""
    rows, predictions = [], []
    for number, fold in enumerate(cv_folds(data, k, config.seed), 1):
        fit = fit_model(fold.snapshots, data.features, fold.split, config)
        test = fold.snapshots.iloc[fold.test_rows]
        y = test["label"].to_numpy(int)
        p = fit.model.predict_proba(test)
        figures = ranking_metrics(y, p)
        test_label = "random" if data.random_split else str(fold.split.test.date())
        rows.append(
            {"fold": number, "test": test_label, "rows": len(y), "positives": int(y.sum())}
            | {m: figures[m] for m in METRICS}
        )
        predictions.append(pd.DataFrame({"row": fold.test_rows, "fold": number, "label": y, "probability": p}))
    return CrossValidation(pd.DataFrame(rows), pd.concat(predictions, ignore_index=True))


def _time_folds(snapshots: pd.DataFrame, k: int, horizon_months: int) -> list[Fold]:
    splits = rolling_origin(snapshots["as_of"], horizon_months)
    if len(splits) < k:
        purged = ", purged by --horizon" if horizon_months else ""
        raise CrossValidationError(
            f"--cv {k}: the reference dates allow {len(splits)} time-ordered fold(s) (each needs a validation "
            f"date and earlier training dates{purged}); use fewer folds or no --cv"
        )
    return [Fold(snapshots, s, np.flatnonzero(s.test_mask(snapshots).to_numpy())) for s in splits[-k:]]


def _random_folds(snapshots: pd.DataFrame, k: int, seed: int) -> list[Fold]:
    y = snapshots["label"].to_numpy(int)
    if min(int(y.sum()), int((y == 0).sum())) < k:
        raise CrossValidationError(f"--cv {k}: fewer than {k} rows of one label value; use fewer folds")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    fold_of = np.empty(len(y), dtype=int)
    for number, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y, snapshots["household_id"].to_numpy())):
        fold_of[test] = number
    folds = []
    for number in range(k):
        part = np.where(fold_of == number, 2, np.where(fold_of == (number + 1) % k, 1, 0))
        marked = snapshots.assign(as_of=np.asarray(_PSEUDO, dtype="datetime64[ns]")[part])
        folds.append(Fold(marked, TimeSplit((_PSEUDO[0],), _PSEUDO[1], _PSEUDO[2]), np.flatnonzero(part == 2)))
    return folds
