"""A what-if never contradicts its measure: every feature it changes moves the way that lowers risk, and a model
trained with the catalogue's monotone constraints never estimates a proposed measure to raise the risk."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.profiles.catalogue import BY_NAME, FEATURES
from models.batch import explain_batch
from models.calibration import SigmoidCalibrator
from models.explain import explain_households
from models.measure_table import BY_RISK, MEASURE_LIST, MEASURES, Change
from models.measures import eligible, propose_measures
from models.reasons import PredContribExplainer
from models.risk_model import FeatureSpec, RiskModel, prepare_matrix
from models.whatif import apply_measure, what_if
from tests.models.explain_fixtures import profiles, small_model, snapshots
from tests.models.profile_strategies import profiles as generated_profiles
from training.fit import TrainConfig, training_params

NUMERIC = [f.name for f in FEATURES if f.kind != "category"]
KEYS = sorted(BY_RISK) + ["demographics", "monitoring", "context"]


def _wrong_moves(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """rows × features: a feature moved against its direction, changed without one, or changed missingness."""
    directions = np.array([BY_NAME[name].direction for name in NUMERIC])
    missing_before, missing_after = np.isnan(before), np.isnan(after)
    with np.errstate(invalid="ignore"):
        wrong = np.where(directions > 0, after > before, np.where(directions < 0, after < before, after != before))
    return (missing_before != missing_after) | (~missing_before & ~missing_after & wrong)


def test_every_feature_a_measure_sets_has_a_direction_the_measure_follows() -> None:
    # Direct changes, read off the table: the sign of each change against the catalogue's direction.
    for item in MEASURE_LIST:
        for effect in item.effects:
            if not isinstance(effect, Change):
                continue
            direction = BY_NAME[effect.feature].direction
            assert direction != 0, (item.code, effect.feature)
            lowers = {
                "add": -direction * effect.value > 0,
                "scale": direction > 0 and 0 <= effect.value <= 1,
                "set": True,  # checked on generated profiles below (it depends on the value it replaces)
                "at_most": direction > 0,
            }[effect.op]
            assert lowers, (item.code, effect)


@pytest.mark.slow  # about 10 s on 2 cores: outside `make test-fast`
@settings(max_examples=40, deadline=None)  # each example applies every measure to up to 8 rows
@given(rows=st.lists(generated_profiles(), min_size=1, max_size=8))
def test_every_feature_a_what_if_changes_moves_the_way_that_lowers_risk(rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows)[NUMERIC]
    before = frame.to_numpy(dtype=float)
    for item in MEASURE_LIST:  # eligible or not: the direction holds for any household
        after = apply_measure(frame, item)[NUMERIC].to_numpy(dtype=float)
        wrong = _wrong_moves(before, after)
        assert not wrong.any(), [
            (item.code, NUMERIC[j], before[i, j], after[i, j]) for i, j in zip(*np.nonzero(wrong), strict=True)
        ]


@lru_cache(maxsize=1)
def constrained_model() -> RiskModel:
    """A small model trained with the constraints training/fit.py gives LightGBM (the catalogue's directions)."""
    features = tuple(FeatureSpec(f.name, f.kind, f.direction, f.categories) for f in FEATURES)
    data = snapshots()
    x = prepare_matrix(data, features)
    y = data["label"].to_numpy()
    params = training_params(features, y, TrainConfig(num_threads=1, seed=0))
    params |= {"num_leaves": 7, "learning_rate": 0.1, "min_data_in_leaf": 20}
    assert params["monotone_constraints"] == [f.direction for f in FEATURES]
    categorical = [i for i, f in enumerate(features) if f.kind == "category"]
    names = [f.name for f in features]
    booster = lgb.train(params, lgb.Dataset(x, y, feature_name=names, categorical_feature=categorical), 60)
    return RiskModel(booster, SigmoidCalibrator(0.9, -0.3), features, {"split": {"test": "2024-01-01"}})


Bounds = dict[int, tuple[float, float]]
EVERYWHERE = (-math.inf, math.inf)


def _leaves(node: dict[str, Any], bounds: Bounds) -> list[tuple[int, float, Bounds]]:
    """Each leaf of a dumped LightGBM tree with its value and the interval (lo, hi] of every numeric split above."""
    if "leaf_index" in node:
        return [(node["leaf_index"], node["leaf_value"], bounds)]
    j = node["split_feature"]
    if node["decision_type"] != "<=":  # a category split: both sides may hold any number
        return _leaves(node["left_child"], bounds) + _leaves(node["right_child"], bounds)
    lo, hi = bounds.get(j, EVERYWHERE)
    return _leaves(node["left_child"], {**bounds, j: (lo, min(hi, node["threshold"]))}) + _leaves(
        node["right_child"], {**bounds, j: (max(lo, node["threshold"]), hi)}
    )


def monotonicity_violations(booster: lgb.Booster, directions: list[int]) -> list[tuple[int, int, int, int]]:
    """(tree, feature, lower leaf, higher leaf) where a tree breaks a constraint: two leaves whose regions
    overlap in every other feature, the second lying wholly above the first in a constrained feature, with
    values in the wrong order. Per-tree monotonicity is what LightGBM enforces, and it makes the sum monotone."""
    found = []
    for t, info in enumerate(booster.dump_model()["tree_info"]):
        leaves = _leaves(info["tree_structure"], {})
        for a, value_a, bounds_a in leaves:
            for b, value_b, bounds_b in leaves:
                for j, direction in enumerate(directions):
                    if not direction or a == b or bounds_a.get(j, EVERYWHERE)[1] > bounds_b.get(j, EVERYWHERE)[0]:
                        continue  # unconstrained, or b does not lie wholly above a in feature j
                    others = (set(bounds_a) | set(bounds_b)) - {j}
                    overlap = all(
                        max(bounds_a.get(k, EVERYWHERE)[0], bounds_b.get(k, EVERYWHERE)[0])
                        < min(bounds_a.get(k, EVERYWHERE)[1], bounds_b.get(k, EVERYWHERE)[1])
                        for k in others
                    )
                    if overlap and direction * (value_b - value_a) < 0:
                        found.append((t, j, a, b))
    return found


def test_the_constrained_model_is_monotone_tree_by_tree() -> None:
    model = constrained_model()
    assert monotonicity_violations(model.booster, [f.direction for f in model.features]) == []
    # The check can fail: a model trained without constraints breaks them.
    unconstrained = small_model()
    assert monotonicity_violations(unconstrained.booster, [f.direction for f in unconstrained.features])


def test_no_proposed_measure_raises_the_estimate_on_the_single_road() -> None:
    model = constrained_model()
    rows = profiles()
    result = explain_households(model, rows, explainer=PredContribExplainer(model.booster))
    scenarios = [s for item in result for s in item.what_if]
    assert len(scenarios) > len(rows)  # the check covered real proposals
    assert all(s.probability_after <= s.probability_before for s in scenarios)
    assert sum(s.points < 0 for s in scenarios) > len(scenarios) // 4  # and most measures do lower it
    assert {s.label_en for s in scenarios} == {"model estimate, not a causal effect"}


@pytest.mark.slow
def test_no_proposed_measure_raises_the_estimate_or_is_ineligible_on_the_batch_road() -> None:
    model = constrained_model()
    rows = profiles()
    table = explain_batch(model, rows, explainer=PredContribExplainer(model.booster))
    points = table[[c for c in table.columns if c.startswith("measure") and c.endswith("_points")]].to_numpy()
    assert np.isfinite(points).sum() > len(rows)
    assert not (points > 0).any()
    # Every proposal of the whole batch is one the household may receive.
    for k in range(1, 7):
        for i, code in enumerate(table[f"measure{k}_code"]):
            if code in MEASURES:
                assert eligible(rows.iloc[i], MEASURES[code]), (i, code)


@settings(max_examples=60, deadline=None)
@given(
    pick=st.integers(0, 1_999),
    keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True),
    changes=st.dictionaries(
        st.sampled_from(["income_pc_yuan", "hospital_oop_12m_yuan", "disasters_12m", "uninsured_count"]),
        st.floats(0, 30_000, allow_nan=False),
        max_size=2,
    ),
)
def test_no_measure_proposed_for_any_reasons_raises_the_estimate(
    pick: int, keys: list[str], changes: dict[str, float]
) -> None:
    model = constrained_model()
    rows = profiles()
    profile = rows.iloc[[pick % len(rows)]].reset_index(drop=True)
    for name, value in changes.items():
        profile[name] = value
    proposals = propose_measures(profile.iloc[0], keys, per_reason=3)
    for scenario in what_if(model, profile, [MEASURES[p.measure] for p in proposals]):
        assert scenario.probability_after <= scenario.probability_before, scenario
