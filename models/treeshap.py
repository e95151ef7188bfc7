"""Exact path-dependent TreeSHAP for the RiskModel's LightGBM booster, fast enough to explain every household.

`TreeExplainer(booster).shap_values(x)` equals `booster.predict(x, pred_contrib=True)[:, :-1]` (and
`shap.TreeExplainer(booster)`) to rounding, in log-odds of the uncalibrated booster; `expected_value` is the
last column. Contributions plus `expected_value` add up to the raw margin.

Speed comes from work done once, when the explainer is built (see `models._treeshap_kernels`): each small
tree's SHAP values are tabulated against the vector of its split decisions, so that explaining a row costs,
per tree, its few split comparisons and one table row. The numba kernels are compiled (or loaded from numba's
on-disk cache) when the explainer is built, never while serving a request.

Supported: numerical and categorical splits, LightGBM's three missing-value types (None: NaN compares as 0;
Zero: 0 and NaN take the default direction; NaN), trees without splits, any depth. Refused with
`UnsupportedModelError`: multiclass boosters, random-forest mode (average_output) and linear trees.
"""

from __future__ import annotations

from math import comb

import lightgbm as lgb
import numpy as np

from models._treeshap_forest import (
    L_FEATURE_START,
    L_FEATURES,
    T_LEAF_START,
    T_LEAVES,
    T_SPLITS,
    Forest,
    UnsupportedModelError,
    flatten_booster,
)
from models._treeshap_kernels import P_FEATURE_START, P_FEATURES, P_TABLE, build_tables, shap_rows

__all__ = ["TreeExplainer", "UnsupportedModelError"]

# A tree with at most this many splits gets one table of 2^splits rows (num_leaves ≤ 11: ≤ 1,024 rows).
TREE_TABLE_MAX_SPLITS = 10
# A leaf with at most this many unique path features gets a table of 2^m rows × m (≤ 16 KiB).
LEAF_TABLE_MAX_FEATURES = 8


class TreeExplainer:
    """Exact TreeSHAP values (log-odds) of a single-output LightGBM booster.

    max_table_bytes bounds the memory of the precomputed tables; trees and leaves beyond it are evaluated
    by the (slower, equally exact) formula.
    """

    def __init__(self, booster: lgb.Booster, *, max_table_bytes: int = 256 * 2**20) -> None:
        self.max_table_bytes = max_table_bytes
        forest = flatten_booster(booster)
        self.n_features: int = forest.n_features
        self.expected_value: float = forest.expected_value
        self._forest = forest
        self._plan(forest, max_table_bytes // 8)
        depth = int(forest.leaf_int[:, L_FEATURES].max(initial=0))
        self._weights = _shapley_weights(depth)
        self._tables = np.zeros(self._table_size)
        build_tables(
            forest.tree_int,
            forest.leaf_int,
            forest.step_int,
            forest.leaf_feature,
            forest.leaf_zero_fraction,
            forest.leaf_value,
            self._tree_plan,
            self._tree_feature,
            self._leaf_plan,
            self._weights,
            min(depth, max(TREE_TABLE_MAX_SPLITS, LEAF_TABLE_MAX_FEATURES)),
            self._tables,
        )
        self._max_splits = int(forest.tree_int[:, T_SPLITS].max(initial=0))
        self._max_features = depth
        self.shap_values(np.zeros((1, self.n_features)))  # compile (or load) the row kernel now, not per request

    def shap_values(self, x: np.ndarray) -> np.ndarray:
        """SHAP values, one row per row of x (n × n_features, float64; NaN = missing, categories as codes)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"x must have shape (n, {self.n_features}), got {x.shape}")
        out = np.zeros(x.shape)
        f = self._forest
        shap_rows(
            x,
            out,
            f.node_int,
            f.node_value,
            f.cat_bits,
            f.tree_int,
            self._tree_plan,
            self._tree_feature,
            f.leaf_int,
            self._leaf_plan,
            f.step_int,
            f.leaf_feature,
            f.leaf_zero_fraction,
            f.leaf_value,
            self._tables,
            self._weights,
            self._max_splits,
            self._max_features,
        )
        return out

    @property
    def table_bytes(self) -> int:
        return int(self._tables.nbytes)

    def _plan(self, forest: Forest, budget: int) -> None:
        """Place tree tables (small trees) and leaf tables (other shallow leaves) until the budget is spent."""
        tree_plan = np.full((forest.n_trees, len((P_TABLE, P_FEATURE_START, P_FEATURES))), -1, dtype=np.int64)
        leaf_plan = np.full(len(forest.leaf_value), -1, dtype=np.int64)
        tree_feature: list[int] = []
        size = 0
        for t, (splits, first_leaf, n_leaves) in enumerate(forest.tree_int[:, [T_SPLITS, T_LEAF_START, T_LEAVES]]):
            leaves = range(int(first_leaf), int(first_leaf + n_leaves))
            features = sorted({int(f) for leaf in leaves for f in forest.leaf_feature[_feature_slice(forest, leaf)]})
            rows = 1 << int(splits)
            if splits <= TREE_TABLE_MAX_SPLITS and size + rows * len(features) <= budget:
                tree_plan[t] = (size, len(tree_feature), len(features))
                tree_feature.extend(features)
                size += rows * len(features)
                continue
            for leaf in leaves:
                m = int(forest.leaf_int[leaf, L_FEATURES])
                if m <= LEAF_TABLE_MAX_FEATURES and size + (m << m) <= budget:
                    leaf_plan[leaf] = size
                    size += m << m
        self._tree_plan, self._leaf_plan = tree_plan, leaf_plan
        self._tree_feature = np.array(tree_feature, dtype=np.int32)
        self._table_size = size


def _feature_slice(forest: Forest, leaf: int) -> slice:
    start = int(forest.leaf_int[leaf, L_FEATURE_START])
    return slice(start, start + int(forest.leaf_int[leaf, L_FEATURES]))


def _shapley_weights(depth: int) -> np.ndarray:
    """weights[m, s] = s! (m − s − 1)! / m!: the Shapley weight of a coalition of s among m players."""
    weights = np.zeros((depth + 1, depth + 1))
    for m in range(1, depth + 1):
        for s in range(m):
            weights[m, s] = 1.0 / (m * comb(m - 1, s))
    return weights
