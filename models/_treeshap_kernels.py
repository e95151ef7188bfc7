"""Compiled (numba) kernels of the TreeSHAP explainer: split decisions, per-leaf SHAP, lookup tables, rows.

The exact path-dependent SHAP value of feature i from one leaf ℓ depends on the row only through which of
the leaf's unique path features the row satisfies (o_k ∈ {0, 1}: all of feature k's splits on the path go
the row's way); with z_k the product of k's cover fractions on the path and m unique features,

    φ_i = v_ℓ (o_i − z_i) Σ_{S ⊆ A} w(|S|, m) Π_{k ∈ A∖S} z_k · Π_{k ∈ C} z_k,   w(s, m) = s! (m−s−1)! / m!

where A are the other satisfied features and C the other unsatisfied ones (`_leaf_shap`, an O(m³)
polynomial product). Because that is a function of a bit pattern, it can be tabulated (FastTreeSHAP v2):

* a *tree table* for trees with few splits: the whole tree's contributions as a function of the vector of
  its split decisions (2^splits rows × the tree's unique features) — one lookup per tree and row, which is
  the production case (num_leaves ≤ 11: ≤ 1,024 rows × ≤ 10 features);
* a *leaf table* for larger trees: per leaf, 2^m rows × m;
* otherwise (deep leaves, or the memory budget spent) the formula is evaluated per row.

The decision functions reproduce LightGBM's `Tree::NumericalDecision` / `CategoricalDecision` exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from models._treeshap_forest import (
    CATEGORICAL,
    L_FEATURE_START,
    L_FEATURES,
    L_STEP_START,
    L_STEPS,
    N_CAT_START,
    N_CAT_WORDS,
    N_DEFAULT_LEFT,
    N_FEATURE,
    N_KIND,
    NUMERICAL,
    S_LEFT,
    S_NODE,
    S_SLOT,
    T_LEAF_START,
    T_LEAVES,
    T_NODE_START,
    T_SPLITS,
    V_NAN_AS,
    V_THRESHOLD,
)

# LightGBM's kZeroThreshold is the float literal 1e-35f, compared in double precision.
ZERO_THRESHOLD = float(np.float32(1e-35))
_INT_LIMIT = 2147483648.0  # beyond int32, C++'s static_cast<int> gives INT_MIN on x86: "right"

# Columns of the table plan (`TreeExplainer`): per tree, table start (-1: none), unique-feature start, count;
# per leaf, table start (-1: none).
P_TABLE, P_FEATURE_START, P_FEATURES = range(3)


@njit(cache=True)
def numerical_left(value: float, threshold: float, nan_as: float) -> bool:
    # The common split: a select and a compare, no data-dependent branch to mispredict.
    if np.isnan(value):
        value = nan_as
    return value <= threshold


@njit(cache=True)
def zero_missing_left(value: float, threshold: float, default_left: bool) -> bool:
    # zero_as_missing: 0 and NaN take the default direction
    if np.isnan(value) or -ZERO_THRESHOLD <= value <= ZERO_THRESHOLD:
        return default_left
    return value <= threshold


@njit(cache=True)
def _leaf_shap(
    zero: np.ndarray,
    one: np.ndarray,
    m: int,
    value: float,
    weights: np.ndarray,
    poly: np.ndarray,
    phi: np.ndarray,
) -> None:
    """phi[:m] = one leaf's SHAP values for its m unique path features, given which of them the row satisfies."""
    for i in range(m):
        # poly(t) = Π_{satisfied k ≠ i} (t + z_k): the coefficient of t^s sums the subsets S of size s.
        poly[0] = 1.0
        degree = 0
        unsatisfied = 1.0
        for k in range(m):
            if k == i:
                continue
            if one[k] > 0.0:
                poly[degree + 1] = poly[degree]
                for s in range(degree, 0, -1):
                    poly[s] = poly[s - 1] + zero[k] * poly[s]
                poly[0] *= zero[k]
                degree += 1
            else:
                unsatisfied *= zero[k]
        total = 0.0
        for s in range(degree + 1):
            total += weights[m, s] * poly[s]
        phi[i] = value * (one[i] - zero[i]) * unsatisfied * total


@njit(cache=True)
def _fill_leaf_table(zero: np.ndarray, m: int, value: float, weights: np.ndarray, out: np.ndarray, start: int) -> None:
    """out[start + pattern * m + k]: the leaf's SHAP value for slot k when the satisfied slots are `pattern`."""
    one = np.empty(m)
    poly = np.empty(m + 1)
    phi = np.empty(m)
    for pattern in range(1 << m):
        for k in range(m):
            one[k] = (pattern >> k) & 1
        _leaf_shap(zero, one, m, value, weights, poly, phi)
        for k in range(m):
            out[start + pattern * m + k] = phi[k]


@njit(cache=True)
def build_tables(
    tree_int: np.ndarray,
    leaf_int: np.ndarray,
    step_int: np.ndarray,
    leaf_feature: np.ndarray,
    leaf_zero: np.ndarray,
    leaf_value: np.ndarray,
    tree_plan: np.ndarray,
    tree_feature: np.ndarray,
    leaf_plan: np.ndarray,
    weights: np.ndarray,
    max_table_features: int,
    tables: np.ndarray,
) -> None:
    """Fill `tables` (zeroed) with the tree and leaf tables that the plans place in it."""
    scratch = np.empty((1 << max_table_features) * max_table_features)
    slot_to_column = np.empty(max(max_table_features, 1), dtype=np.int64)
    for t in range(tree_int.shape[0]):
        first_leaf = tree_int[t, T_LEAF_START]
        n_leaves = tree_int[t, T_LEAVES]
        table = tree_plan[t, P_TABLE]
        if table < 0:
            for leaf in range(first_leaf, first_leaf + n_leaves):
                if leaf_plan[leaf] >= 0:
                    fs, m = leaf_int[leaf, L_FEATURE_START], leaf_int[leaf, L_FEATURES]
                    _fill_leaf_table(leaf_zero[fs : fs + m], m, leaf_value[leaf], weights, tables, leaf_plan[leaf])
            continue
        splits = tree_int[t, T_SPLITS]
        columns_start, columns = tree_plan[t, P_FEATURE_START], tree_plan[t, P_FEATURES]
        for leaf in range(first_leaf, first_leaf + n_leaves):
            fs, m = leaf_int[leaf, L_FEATURE_START], leaf_int[leaf, L_FEATURES]
            if m == 0:
                continue
            _fill_leaf_table(leaf_zero[fs : fs + m], m, leaf_value[leaf], weights, scratch, 0)
            for k in range(m):
                for c in range(columns):
                    if tree_feature[columns_start + c] == leaf_feature[fs + k]:
                        slot_to_column[k] = c
            first_step, n_steps = leaf_int[leaf, L_STEP_START], leaf_int[leaf, L_STEPS]
            for decisions in range(1 << splits):  # bit j: the row goes left at split j
                pattern = (1 << m) - 1
                for s in range(first_step, first_step + n_steps):
                    if ((decisions >> step_int[s, S_NODE]) & 1) != step_int[s, S_LEFT]:
                        pattern &= ~(1 << step_int[s, S_SLOT])
                row = table + decisions * columns
                for k in range(m):
                    tables[row + slot_to_column[k]] += scratch[pattern * m + k]


@njit(cache=True)
def shap_rows(
    x: np.ndarray,
    out: np.ndarray,
    node_int: np.ndarray,
    node_value: np.ndarray,
    cat_bits: np.ndarray,
    tree_int: np.ndarray,
    tree_plan: np.ndarray,
    tree_feature: np.ndarray,
    leaf_int: np.ndarray,
    leaf_plan: np.ndarray,
    step_int: np.ndarray,
    leaf_feature: np.ndarray,
    leaf_zero: np.ndarray,
    leaf_value: np.ndarray,
    tables: np.ndarray,
    weights: np.ndarray,
    max_splits: int,
    max_features: int,
) -> None:
    """out[r] += SHAP values of row r, tree by tree in model order (so the sums are reproducible)."""
    went_left = np.empty(max(max_splits, 1), dtype=np.bool_)
    one = np.empty(max(max_features, 1))
    poly = np.empty(max_features + 1)
    phi = np.empty(max(max_features, 1))
    for r in range(x.shape[0]):
        row = x[r]
        contributions = out[r]
        for t in range(tree_int.shape[0]):
            first_node, splits = tree_int[t, T_NODE_START], tree_int[t, T_SPLITS]
            decisions = 0  # bit j: the row goes left at split j (used by tree tables)
            for j in range(splits):
                node = first_node + j
                value = row[node_int[node, N_FEATURE]]
                # Written out here rather than in a helper: a numba call with array arguments pays reference
                # counting, which costs more than the decision itself, once per split and row.
                kind = node_int[node, N_KIND]
                if kind == NUMERICAL:
                    left = numerical_left(value, node_value[node, V_THRESHOLD], node_value[node, V_NAN_AS])
                elif kind == CATEGORICAL:
                    # NaN, negative and out-of-range codes go right; a fraction is truncated like a C++ cast.
                    left = False
                    if not (np.isnan(value) or value >= _INT_LIMIT or value <= -_INT_LIMIT):
                        code = int(value)
                        if code >= 0 and (code >> 5) < node_int[node, N_CAT_WORDS]:
                            word = cat_bits[node_int[node, N_CAT_START] + (code >> 5)]
                            left = ((np.int64(word) >> (code & 31)) & 1) == 1  # LightGBM's FindInBitset
                else:
                    left = zero_missing_left(value, node_value[node, V_THRESHOLD], node_int[node, N_DEFAULT_LEFT] == 1)
                went_left[j] = left
                decisions |= int(left) << (j & 63)
            table = tree_plan[t, P_TABLE]
            if table >= 0:
                columns_start, columns = tree_plan[t, P_FEATURE_START], tree_plan[t, P_FEATURES]
                base = table + decisions * columns
                for c in range(columns):
                    contributions[tree_feature[columns_start + c]] += tables[base + c]
                continue
            first_leaf = tree_int[t, T_LEAF_START]
            for leaf in range(first_leaf, first_leaf + tree_int[t, T_LEAVES]):
                fs, m = leaf_int[leaf, L_FEATURE_START], leaf_int[leaf, L_FEATURES]
                if m == 0:
                    continue
                for k in range(m):
                    one[k] = 1.0
                first_step = leaf_int[leaf, L_STEP_START]
                for s in range(first_step, first_step + leaf_int[leaf, L_STEPS]):
                    if went_left[step_int[s, S_NODE]] != (step_int[s, S_LEFT] == 1):
                        one[step_int[s, S_SLOT]] = 0.0
                leaf_table = leaf_plan[leaf]
                if leaf_table >= 0:
                    pattern = 0
                    for k in range(m):
                        if one[k] > 0.0:
                            pattern |= 1 << k
                    base = leaf_table + pattern * m
                    for k in range(m):
                        contributions[leaf_feature[fs + k]] += tables[base + k]
                else:
                    _leaf_shap(leaf_zero[fs : fs + m], one, m, leaf_value[leaf], weights, poly, phi)
                    for k in range(m):
                        contributions[leaf_feature[fs + k]] += phi[k]
