"""A small trained RiskModel and real profiles for the explanation tests (built once per session)."""

from __future__ import annotations

from functools import lru_cache

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.profiles.catalogue import FEATURES
from models.calibration import IsotonicCalibrator, SigmoidCalibrator
from models.reasons import PredContribExplainer
from models.risk_model import FeatureSpec, RiskModel, prepare_matrix
from tests.cities import city
from training.labels import build_snapshots

AS_OF = pd.Timestamp("2024-01-01")


@lru_cache(maxsize=1)
def snapshots() -> pd.DataFrame:
    return build_snapshots(city(2_000, 1), ["2021-01-01", "2022-01-01", "2023-01-01", "2024-01-01"], "identified_12m")


@lru_cache(maxsize=2)
def small_model(calibrator: str = "sigmoid") -> RiskModel:
    """60 shallow trees on a 2,000-household city; a sigmoid or an isotonic calibrator with flat steps."""
    features = tuple(FeatureSpec(f.name, f.kind, f.direction, f.categories) for f in FEATURES)
    data = snapshots()
    x = prepare_matrix(data, features)
    params = {
        "objective": "binary",
        "num_leaves": 7,
        "learning_rate": 0.1,
        "min_data_in_leaf": 20,
        "verbose": -1,
        "seed": 0,
        "deterministic": True,
        "num_threads": 1,
    }
    booster = lgb.train(params, lgb.Dataset(x, data["label"].to_numpy(), feature_name=[f.name for f in features]), 60)
    if calibrator == "isotonic":
        margin = booster.predict(x, raw_score=True)
        knots = np.quantile(margin, [0.0, 0.3, 0.5, 0.8, 0.95, 1.0])
        cal: IsotonicCalibrator | SigmoidCalibrator = IsotonicCalibrator(
            tuple(map(float, knots)),
            (0.001, 0.004, 0.004, 0.02, 0.1, 0.4),  # flat between 30 % and 50 %
        )
    else:
        cal = SigmoidCalibrator(0.9, -0.3)
    return RiskModel(booster, cal, features, {"split": {"test": "2024-01-01"}})


@lru_cache(maxsize=1)
def profiles() -> pd.DataFrame:
    """The 2024-01-01 profiles, highest risk first (the households explanations matter for)."""
    data = snapshots()
    rows = data[data["as_of"] == AS_OF].drop(columns=["label"]).reset_index(drop=True)
    order = np.argsort(-small_model().predict_proba(rows), kind="stable")
    return rows.iloc[order].reset_index(drop=True)


def explainer(model: RiskModel) -> PredContribExplainer:
    return PredContribExplainer(model.booster)
