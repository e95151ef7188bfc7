"""Fit a RiskModel on a Dask cluster with `lightgbm.dask`: the booster trains data-parallel on the workers.

Same split, parameters, class weighting and calibration as `training.fit.fit_risk_model` (the default path,
unchanged), with two differences that distributed LightGBM imposes:

- no early stopping: every worker would evaluate its own share of the validation rows and could stop at a
  different round. The booster trains `rounds` rounds; the kept number of trees is then chosen on the whole
  validation period on the client (average precision every `eval_every` rounds, the metric early stopping
  watches) and the booster is cut there, so the saved model is exactly the evaluated one;
- the result is deterministic for a given cluster layout, not bitwise equal to single-machine training
  (histograms are built per worker and merged).

The training rows are sent to the workers as a Dask array in one chunk per worker. Snapshots are built on
the client, as `relapse train` builds them; beyond one machine's memory they would be built per partition
on the workers (`features.reading.partitions`), which this module does not do yet.
"""

from __future__ import annotations

import math
from typing import Any

import dask.array as da
import lightgbm as lgb
import numpy as np
import pandas as pd
from distributed import Client
from sklearn.metrics import average_precision_score

from models.risk_model import FeatureSpec, RiskModel
from training.fit import (
    FitResult,
    TrainConfig,
    _fit_calibrators,
    _jsonable,
    household_half,
    split_matrices,
    split_weights,
    training_params,
)
from training.split import TimeSplit

DEFAULT_ROUNDS = 600


def fit_risk_model_dask(
    snapshots: pd.DataFrame,
    features: tuple[FeatureSpec, ...],
    split: TimeSplit,
    config: TrainConfig | None = None,
    meta: dict[str, Any] | None = None,
    *,
    client: Client,
    rounds: int = DEFAULT_ROUNDS,
    eval_every: int = 10,
) -> FitResult:
    """Train on split.train on the cluster, choose the number of trees and calibrate on split.valid."""
    config = config or TrainConfig()
    x_train, y_train, x_valid, y_valid, valid_households = split_matrices(snapshots, features, split)
    w_train, w_valid = split_weights(snapshots, split)
    w_train = np.ones(len(y_train)) if w_train is None else w_train
    w_valid = np.ones(len(y_valid)) if w_valid is None else w_valid
    params = training_params(features, y_train, config)
    params.pop("metric", None)  # evaluated on the client, below
    params.pop("num_threads", None)  # lightgbm.dask uses each worker's threads
    workers = max(len(client.scheduler_info()["workers"]), 1)
    chunk = math.ceil(len(y_train) / workers)
    dx = da.from_array(x_train, chunks=(chunk, x_train.shape[1]))
    dy = da.from_array(y_train, chunks=(chunk,))
    dw = da.from_array(w_train, chunks=(chunk,))
    categorical = [i for i, f in enumerate(features) if f.kind == "category"]
    estimator = lgb.DaskLGBMClassifier(client=client, n_estimators=rounds, **params)
    estimator.fit(dx, dy, sample_weight=dw, feature_name=[f.name for f in features], categorical_feature=categorical)
    trained: lgb.Booster = estimator.booster_

    checkpoints = sorted({*range(eval_every, rounds + 1, eval_every), trained.current_iteration()})
    scores = {
        k: float(
            average_precision_score(
                y_valid, trained.predict(x_valid, raw_score=True, num_iteration=k), sample_weight=w_valid
            )
        )
        for k in checkpoints
        if k <= trained.current_iteration()
    }
    best = max(scores, key=lambda k: (scores[k], -k))
    booster = lgb.Booster(model_str=trained.model_to_string(num_iteration=best))

    margin = np.asarray(booster.predict(x_valid, raw_score=True, num_threads=config.num_threads))
    half = household_half(valid_households)
    calibrators = _fit_calibrators(margin[half], y_valid[half], w_valid[half])
    brier = {
        kind: float(np.average((cal.predict(margin[~half]) - y_valid[~half]) ** 2, weights=w_valid[~half]))
        for kind, cal in calibrators.items()
    }
    chosen = min(brier, key=lambda k: (brier[k], k))
    model = RiskModel(booster, calibrators[chosen], features, dict(meta or {}))
    model.meta.update(
        {
            "calibrator": chosen,
            "best_iteration": best,
            "params": _jsonable(params),
            "trained_on": f"dask ({workers} workers, lightgbm.dask, {rounds} rounds)",
        }
    )
    return FitResult(model, best, brier, params)
