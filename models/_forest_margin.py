"""Raw margins of a LightGBM booster tree by tree, so that a what-if re-score re-evaluates only changed trees.

LightGBM's `predict(raw_score=True)` sums the trees' leaf values in model order, starting from 0.0
(`GBDT::PredictRaw`). `leaf_values` keeps each row's leaf value per tree; `margins_after_change` re-evaluates
only the trees that split on a changed column and sums all trees again in the same order, so the result is
bitwise LightGBM's margin of the changed row. Split decisions are LightGBM's, as in the TreeSHAP kernels
(`models._treeshap_kernels`); `ForestMargin.check` compares against the booster and callers fall back to it
when a model is not reproduced exactly.
"""

from __future__ import annotations

import hashlib

import lightgbm as lgb
import numpy as np
from numba import njit

from models._treeshap_forest import (
    CATEGORICAL,
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
    T_LEAF_START,
    T_LEAVES,
    T_NODE_START,
    T_SPLITS,
    V_NAN_AS,
    V_THRESHOLD,
    Forest,
    UnsupportedModelError,
    flatten_booster,
)
from models._treeshap_kernels import _INT_LIMIT, numerical_left, zero_missing_left

MAX_SPLITS = 12  # decision tables of 2^splits values per tree


@njit(cache=True)
def _leaf(
    row: np.ndarray,
    t: int,
    node_int: np.ndarray,
    node_value: np.ndarray,
    cat_bits: np.ndarray,
    tree_int: np.ndarray,
    table_start: np.ndarray,
    leaf_by_decisions: np.ndarray,
) -> float:
    first_node, splits = tree_int[t, T_NODE_START], tree_int[t, T_SPLITS]
    decisions = 0  # bit j: the row goes left at split j
    for j in range(splits):
        node = first_node + j
        value = row[node_int[node, N_FEATURE]]
        kind = node_int[node, N_KIND]
        if kind == NUMERICAL:
            left = numerical_left(value, node_value[node, V_THRESHOLD], node_value[node, V_NAN_AS])
        elif kind == CATEGORICAL:
            left = False
            if not (np.isnan(value) or value >= _INT_LIMIT or value <= -_INT_LIMIT):
                code = int(value)
                if code >= 0 and (code >> 5) < node_int[node, N_CAT_WORDS]:
                    word = cat_bits[node_int[node, N_CAT_START] + (code >> 5)]
                    left = ((np.int64(word) >> (code & 31)) & 1) == 1
        else:
            left = zero_missing_left(value, node_value[node, V_THRESHOLD], node_int[node, N_DEFAULT_LEFT] == 1)
        decisions |= int(left) << j
    return leaf_by_decisions[table_start[t] + decisions]


@njit(cache=True)
def _leaf_values(x, out, node_int, node_value, cat_bits, tree_int, table_start, leaf_by_decisions):
    for r in range(x.shape[0]):
        for t in range(tree_int.shape[0]):
            out[r, t] = _leaf(x[r], t, node_int, node_value, cat_bits, tree_int, table_start, leaf_by_decisions)


@njit(cache=True)
def _margins_after(
    x, base, leaves, changed, out, node_int, node_value, cat_bits, tree_int, table_start, leaf_by_decisions
):
    for r in range(x.shape[0]):
        total = 0.0
        for t in range(tree_int.shape[0]):
            if changed[t]:
                total += _leaf(x[r], t, node_int, node_value, cat_bits, tree_int, table_start, leaf_by_decisions)
            else:
                total += leaves[base[r], t]
        out[r] = total


@njit(cache=True)
def _sum_rows(leaves, out):
    for r in range(leaves.shape[0]):
        total = 0.0
        for t in range(leaves.shape[1]):
            total += leaves[r, t]
        out[r] = total


def _decision_tables(f: Forest) -> tuple[np.ndarray, np.ndarray]:
    """Per tree, the leaf value for each vector of split decisions (bit j: left at split j): 2^splits entries."""
    starts = np.zeros(f.n_trees, dtype=np.int64)
    values: list[np.ndarray] = []
    size = 0
    for t in range(f.n_trees):
        splits = int(f.tree_int[t, T_SPLITS])
        patterns = np.arange(1 << splits)
        table = np.full(1 << splits, np.nan)
        first_leaf = int(f.tree_int[t, T_LEAF_START])
        for leaf in range(first_leaf, first_leaf + int(f.tree_int[t, T_LEAVES])):
            reached = np.ones(len(patterns), dtype=bool)
            first_step = int(f.leaf_int[leaf, L_STEP_START])
            for s in range(first_step, first_step + int(f.leaf_int[leaf, L_STEPS])):
                left = (patterns >> int(f.step_int[s, S_NODE])) & 1
                reached &= left == int(f.step_int[s, S_LEFT])
            table[reached] = f.leaf_value[leaf]
        starts[t] = size
        values.append(table)
        size += len(table)
    return starts, np.concatenate(values) if values else np.zeros(0)


_BY_DIGEST: dict[bytes, ForestMargin] = {}


def forest_margin(booster: lgb.Booster) -> ForestMargin:
    """The booster's ForestMargin, built once per model in a process (parsing the dump takes a fraction of a
    second; a worker process receives a new Booster object with every task, hence the key by content)."""
    digest = hashlib.blake2b(booster.model_to_string().encode(), digest_size=16).digest()
    if digest not in _BY_DIGEST:
        if len(_BY_DIGEST) >= 4:
            _BY_DIGEST.clear()
        _BY_DIGEST[digest] = ForestMargin(booster)
    return _BY_DIGEST[digest]


class ForestMargin:
    """A booster's trees for margins of rows and of changed copies of them (module docstring)."""

    def __init__(self, booster: lgb.Booster) -> None:
        self._forest: Forest = flatten_booster(booster)
        f = self._forest
        if int(f.tree_int[:, T_SPLITS].max(initial=0)) > MAX_SPLITS:
            raise UnsupportedModelError(f"trees of more than {MAX_SPLITS} splits: use the booster's own predict")
        self._table_start, self._leaf_by_decisions = _decision_tables(f)
        # tree_features[t, j]: tree t splits on column j
        self._tree_features = np.zeros((f.n_trees, f.n_features), dtype=bool)
        for t, (start, splits) in enumerate(f.tree_int[:, [T_NODE_START, T_SPLITS]]):
            self._tree_features[t, f.node_int[start : start + splits, N_FEATURE]] = True

    def leaf_values(self, x: np.ndarray) -> np.ndarray:
        """rows × trees: each row's leaf value in each tree."""
        f = self._forest
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty((len(x), f.n_trees))
        _leaf_values(
            x,
            out,
            f.node_int,
            f.node_value,
            f.cat_bits,
            f.tree_int,
            self._table_start,
            self._leaf_by_decisions,
        )
        return out

    @staticmethod
    def margins(leaves: np.ndarray) -> np.ndarray:
        out = np.empty(len(leaves))
        _sum_rows(np.ascontiguousarray(leaves), out)
        return out

    def margins_after_change(
        self, x_after: np.ndarray, base: np.ndarray, leaves: np.ndarray, columns: np.ndarray
    ) -> np.ndarray:
        """Margins of x_after, whose row r equals row base[r] of the leaves' rows except in `columns`."""
        f = self._forest
        changed = self._tree_features[:, columns].any(axis=1) if len(columns) else np.zeros(f.n_trees, dtype=bool)
        out = np.empty(len(x_after))
        _margins_after(
            np.ascontiguousarray(x_after, dtype=np.float64),
            np.asarray(base, dtype=np.int64),
            leaves,
            changed,
            out,
            f.node_int,
            f.node_value,
            f.cat_bits,
            f.tree_int,
            self._table_start,
            self._leaf_by_decisions,
        )
        return out
