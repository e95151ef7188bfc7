"""Fit a RiskModel: time-based split → LightGBM → calibration chosen on a held-out period.

Never random rows across time: the booster learns from earlier reference dates, stops early on a later one,
and is tested on the latest (training/split.py). The calibration period is the validation period split by
household into two halves: one fits the isotonic and the sigmoid calibrator, the other chooses between them
(lower Brier score), so the choice is not made on the data a calibrator was fitted to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from models.calibration import IsotonicCalibrator, SigmoidCalibrator
from models.risk_model import FeatureSpec, RiskModel, prepare_matrix
from training.observation import WEIGHT_COLUMN
from training.split import TimeSplit

# Small, strongly regularised trees: on the demo city they rank better on the later test period than
# deeper ones (docs/model-quality.md), and they train fast. `relapse tune` searches around them. 11 leaves
# rather than 7: with quarterly snapshots, early stopping on the 1 January validation date keeps under a
# hundred trees, and 7-leaf trees spend them all on income and illness; a few more leaves per tree let the
# model also split on recent shocks (disaster, business failure) inside the income leaves, so that its
# explanations can name them (docs/model-quality.md, "Faithfulness of reasons"), at equal ranking quality.
# At most 11 (10 splits): the explainer tabulates whole trees up to that size (models/treeshap.py), which keeps
# TreeSHAP several times faster than LightGBM's pred_contrib; larger trees fall back to per-leaf tables and lose
# most of that margin (docs/benchmarks.md, "TreeSHAP").
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    # Early stopping watches the ranking that grid workers use, not the log-loss of reweighted classes.
    "metric": "average_precision",
    "learning_rate": 0.05,
    "num_leaves": 11,
    "feature_fraction": 0.6,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "max_bin": 63,
    "cat_smooth": 10.0,
    "min_data_per_group": 100,
    # "intermediate", not "advanced": the advanced method can leave a tree non-monotone (LightGBM issues #5358 and
    # #6155, open), and a what-if must never show a measure raising the risk (models/whatif.py). The catalogue's
    # directions are the constraints (`training_params`).
    "monotone_constraints_method": "intermediate",
}


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 42
    num_threads: int = 2
    num_boost_round: int = 2_000
    early_stopping_rounds: int = 100
    # Class imbalance: positives are weighted by sqrt(negatives / positives). Calibration afterwards maps
    # the reweighted margin back to true probabilities, so the weighting only shapes the ranking.
    imbalance_power: float = 0.5
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class FitResult:
    model: RiskModel
    best_iteration: int
    calibrator_scores: dict[str, float]  # Brier on the choosing half, per calibrator kind
    params: dict[str, Any]


def household_half(household_ids: pd.Series) -> np.ndarray:
    """A stable 50/50 split by household (hash of the id), independent of row order."""
    digest = household_ids.astype(str).map(lambda h: hashlib.blake2b(h.encode(), digest_size=2).digest()[0])
    return (digest.to_numpy() % 2) == 0


def split_matrices(
    snapshots: pd.DataFrame, features: tuple[FeatureSpec, ...], split: TimeSplit
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.Series]:
    """(x_train, y_train, x_valid, y_valid, the validation rows' household ids) of the split; both periods need
    positive and negative labels."""
    train = snapshots[split.train_mask(snapshots)]
    valid = snapshots[split.valid_mask(snapshots)]
    if train["label"].nunique() < 2 or valid["label"].nunique() < 2:
        raise ValueError("training and validation periods both need positive and negative labels")
    x_train, x_valid = prepare_matrix(train, features), prepare_matrix(valid, features)
    y_train, y_valid = train["label"].to_numpy(int), valid["label"].to_numpy(int)
    return x_train, y_train, x_valid, y_valid, valid["household_id"]


def split_weights(snapshots: pd.DataFrame, split: TimeSplit) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Row weights of the training and validation periods (the `weight` column of a label that weights its rows,
    such as need_12m's observation weights, training/observation.py); None when the snapshots carry none."""
    if WEIGHT_COLUMN not in snapshots:
        return None, None
    weights = snapshots[WEIGHT_COLUMN].to_numpy(dtype=float)
    return weights[split.train_mask(snapshots).to_numpy()], weights[split.valid_mask(snapshots).to_numpy()]


def training_params(features: tuple[FeatureSpec, ...], y_train: np.ndarray, config: TrainConfig) -> dict[str, Any]:
    """LightGBM parameters for these features and labels: the defaults, the config's, the constraints."""
    pos = max(int(y_train.sum()), 1)
    weight = (len(y_train) - pos) / pos
    return {
        **DEFAULT_PARAMS,
        # Leaves of at least 0.25 % of the training rows (800 on the demo city), never fewer than 20.
        "min_data_in_leaf": int(np.clip(len(y_train) // 400, 20, 800)),
        **config.params,
        "monotone_constraints": [f.direction for f in features],
        "scale_pos_weight": weight**config.imbalance_power,
        "seed": config.seed,
        "num_threads": config.num_threads,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def fit_risk_model(
    snapshots: pd.DataFrame,
    features: tuple[FeatureSpec, ...],
    split: TimeSplit,
    config: TrainConfig | None = None,
    meta: dict[str, Any] | None = None,
) -> FitResult:
    """Train on split.train, early-stop on split.valid, calibrate on split.valid (halves)."""
    config = config or TrainConfig()
    x_train, y_train, x_valid, y_valid, valid_households = split_matrices(snapshots, features, split)
    w_train, w_valid = split_weights(snapshots, split)
    params = training_params(features, y_train, config)
    categorical = [i for i, f in enumerate(features) if f.kind == "category"]
    names = [f.name for f in features]
    dtrain = lgb.Dataset(
        x_train, y_train, weight=w_train, feature_name=names, categorical_feature=categorical, free_raw_data=True
    )
    dvalid = lgb.Dataset(x_valid, y_valid, weight=w_valid, reference=dtrain)
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=config.num_boost_round,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    # Keep only the trees that early stopping chose: the saved model is exactly the evaluated one.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))

    margin = np.asarray(booster.predict(x_valid, raw_score=True, num_threads=config.num_threads))
    half = household_half(valid_households)
    weight = np.ones(len(y_valid)) if w_valid is None else w_valid
    calibrators = _fit_calibrators(margin[half], y_valid[half], weight[half])
    scores = {
        kind: float(brier_score_loss(y_valid[~half], cal.predict(margin[~half]), sample_weight=weight[~half]))
        for kind, cal in calibrators.items()
    }
    chosen = min(scores, key=lambda k: (scores[k], k))
    model = RiskModel(booster, calibrators[chosen], features, dict(meta or {}))
    model.meta.update({"calibrator": chosen, "best_iteration": best, "params": _jsonable(params)})
    return FitResult(model, best, scores, params)


def _fit_calibrators(
    margin: np.ndarray, y: np.ndarray, weight: np.ndarray
) -> dict[str, IsotonicCalibrator | SigmoidCalibrator]:
    lr = LogisticRegression(C=1e6, max_iter=1_000).fit(margin[:, None], y, sample_weight=weight)
    return {
        "isotonic": _isotonic(margin, y, weight),
        "sigmoid": SigmoidCalibrator(float(lr.coef_[0, 0]), float(lr.intercept_[0])),
    }


def _isotonic(margin: np.ndarray, y: np.ndarray, weight: np.ndarray) -> IsotonicCalibrator:
    """Isotonic regression whose steps claim no certainty the data cannot give.

    Plain isotonic regression gives its top step the rate of the few households in it: 1.0 when all of them were
    in need, and a household page then reads "100.0 %". Each step's rate is instead the posterior mean under a
    Jeffreys prior, (in need + ½) / (households + 1), weighted like the fit; the steps are then made
    non-decreasing again (a small step can fall below the one before it). A top step of 30 households all in need
    reads 98.4 %; a step of thousands keeps its rate to the third decimal (docs/model-quality.md, "Calibration").
    """
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(margin, y, sample_weight=weight)
    rates, step = np.unique(iso.predict(margin), return_inverse=True)
    households = np.bincount(step, weights=weight, minlength=len(rates))
    in_need = np.bincount(step, weights=weight * y, minlength=len(rates))
    order = np.arange(len(rates), dtype=float)
    smoothed = IsotonicRegression().fit(order, (in_need + 0.5) / (households + 1.0), sample_weight=households)
    at = np.searchsorted(rates, iso.y_thresholds_).clip(0, len(rates) - 1)
    y_steps = smoothed.predict(order)[at]
    return IsotonicCalibrator(tuple(map(float, iso.X_thresholds_)), tuple(map(float, y_steps)))


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in params.items()}
