"""A LightGBM booster's trees as flat numpy arrays: what the TreeSHAP kernels read.

Parsed from `Booster.dump_model()` (LightGBM's JSON dump). Internal nodes keep LightGBM's own numbering
(`split_index`, 0..num_leaves-2 within a tree) and leaves theirs (`leaf_index`), so that a child reference is
LightGBM's: ≥ 0 an internal node, < 0 the leaf `~child`.

Besides the nodes, every leaf's root-to-leaf path is stored with its *unique* features: path-dependent
TreeSHAP only needs, per leaf and per feature on its path, the product of the cover fractions of that
feature's splits (`zero fraction`, taken from `internal_count`/`leaf_count`, as LightGBM does) and whether
the row satisfies all of that feature's splits on the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

# Split kinds: numerical, numerical with zero-as-missing (rare, evaluated apart), categorical.
NUMERICAL, NUMERICAL_ZERO_MISSING, CATEGORICAL = 0, 1, 2
MISSING_TYPES = {"None": 0, "Zero": 1, "NaN": 2}

# Columns of `Forest.node_int`.
N_FEATURE, N_KIND, N_MISSING, N_DEFAULT_LEFT, N_CAT_START, N_CAT_WORDS = range(6)
# Columns of `Forest.node_value`: the threshold, and the value a NaN is compared as (a numerical split
# sends NaN the way this value goes: ±inf for the default direction, 0.0 when the split saw no missing values).
V_THRESHOLD, V_NAN_AS = range(2)
# Columns of `Forest.tree_int`.
T_NODE_START, T_SPLITS, T_LEAF_START, T_LEAVES = range(4)
# Columns of `Forest.leaf_int`.
L_STEP_START, L_STEPS, L_FEATURE_START, L_FEATURES = range(4)
# Columns of `Forest.step_int`.
S_NODE, S_LEFT, S_SLOT = range(3)


class UnsupportedModelError(ValueError):
    """The booster uses something the TreeSHAP explainer does not implement (named in the message)."""


@dataclass(frozen=True)
class Forest:
    n_features: int
    node_int: np.ndarray  # (nodes, 6) int32: feature, kind, missing type, default left, bitset start, bitset words
    node_value: np.ndarray  # (nodes, 2) float64: threshold (left when value <= threshold), NaN compared as
    cat_bits: np.ndarray  # uint32 bitsets of the categories that go left, as LightGBM stores them
    tree_int: np.ndarray  # (trees, 4) int64: first node, number of splits, first leaf, number of leaves
    leaf_value: np.ndarray  # (leaves,) float64, shrinkage already applied
    leaf_share: np.ndarray  # (leaves,) float64: leaf_count / root count (1 for a single-leaf tree)
    leaf_int: np.ndarray  # (leaves, 4) int64: first step, steps, first unique feature, unique features
    step_int: np.ndarray  # (steps, 3) int32: split node within its tree, 1 if the path goes left, feature slot
    leaf_feature: np.ndarray  # int32: each leaf's unique path features, in order of first appearance
    leaf_zero_fraction: np.ndarray  # float64: the product of the cover fractions of that feature's splits

    @property
    def n_trees(self) -> int:
        return len(self.tree_int)

    @property
    def expected_value(self) -> float:
        """Σ over trees of the count-weighted mean leaf value: LightGBM's `Tree::ExpectedValue`, summed."""
        total = 0.0
        for start, n in self.tree_int[:, [T_LEAF_START, T_LEAVES]]:
            total += float(np.sum(self.leaf_share[start : start + n] * self.leaf_value[start : start + n]))
        return total


def flatten_booster(booster: lgb.Booster) -> Forest:
    """The booster's trees (as `predict` uses them by default: up to its best iteration, if any) as arrays."""
    dump = booster.dump_model()
    _check_supported(dump)
    builder = _Builder()
    for tree in dump["tree_info"]:
        builder.add_tree(tree["tree_structure"])
    return builder.finish(int(dump["max_feature_idx"]) + 1)


def _check_supported(dump: dict[str, Any]) -> None:
    if int(dump.get("num_tree_per_iteration", 1)) != 1 or int(dump.get("num_class", 1)) != 1:
        raise UnsupportedModelError("only single-output boosters (binary, regression) are supported, not multiclass")
    if dump.get("average_output"):
        raise UnsupportedModelError("random-forest boosters (average_output) are not supported")


class _Builder:
    def __init__(self) -> None:
        self.node_int: list[tuple[int, int, int, int, int, int]] = []
        self.node_value: list[tuple[float, float]] = []
        self.cat_bits: list[int] = []
        self.tree_int: list[tuple[int, int, int, int]] = []
        self.leaf_value: list[float] = []
        self.leaf_share: list[float] = []
        self.leaf_int: list[tuple[int, int, int, int]] = []
        self.step_int: list[tuple[int, int, int]] = []
        self.leaf_feature: list[int] = []
        self.leaf_zero_fraction: list[float] = []

    def add_tree(self, root: dict[str, Any]) -> None:
        node_start, leaf_start = len(self.node_int), len(self.leaf_value)
        if "split_index" not in root:  # a tree without a split: its value only moves the expected value
            self.tree_int.append((node_start, 0, leaf_start, 1))
            self.leaf_value.append(float(root["leaf_value"]))
            self.leaf_share.append(1.0)
            self.leaf_int.append((len(self.step_int), 0, len(self.leaf_feature), 0))
            return
        splits: dict[int, dict[str, Any]] = {}
        leaves: dict[int, tuple[dict[str, Any], list[tuple[int, int, int, float]]]] = {}
        # Depth-first without recursion (deep trees); a path step is (split, went left, feature, cover fraction).
        stack: list[tuple[dict[str, Any], list[tuple[int, int, int, float]]]] = [(root, [])]
        while stack:
            node, path = stack.pop()
            if "split_index" not in node:
                leaves[int(node["leaf_index"])] = (node, path)
                continue
            index = int(node["split_index"])
            splits[index] = node
            parent_count = float(node["internal_count"])
            for child, left in ((node["right_child"], 0), (node["left_child"], 1)):
                count = float(child["internal_count"] if "split_index" in child else child["leaf_count"])
                fraction = count / parent_count if parent_count > 0 else 0.0
                stack.append((child, [*path, (index, left, int(node["split_feature"]), fraction)]))
        if sorted(splits) != list(range(len(splits))) or sorted(leaves) != list(range(len(splits) + 1)):
            raise UnsupportedModelError("tree nodes are not numbered 0..n-1 in the model dump")
        for index in range(len(splits)):
            self._add_split(splits[index])
        root_count = float(root["internal_count"])
        for index in range(len(leaves)):
            leaf, path = leaves[index]
            self._add_leaf(leaf, path, root_count)
        self.tree_int.append((node_start, len(splits), leaf_start, len(leaves)))

    def _add_split(self, node: dict[str, Any]) -> None:
        decision = node["decision_type"]
        missing = MISSING_TYPES.get(str(node.get("missing_type", "None")))
        if missing is None:
            raise UnsupportedModelError(f"unknown missing_type {node.get('missing_type')!r}")
        default_left = int(bool(node.get("default_left", False)))
        if decision == "<=":
            kind = NUMERICAL_ZERO_MISSING if missing == MISSING_TYPES["Zero"] else NUMERICAL
            # LightGBM compares NaN as 0.0 unless the split learned a direction for missing values.
            nan_as = (-np.inf if default_left else np.inf) if missing == MISSING_TYPES["NaN"] else 0.0
            self.node_int.append((int(node["split_feature"]), kind, missing, default_left, 0, 0))
            self.node_value.append((float(node["threshold"]), nan_as))
        elif decision == "==":
            categories = [int(c) for c in str(node["threshold"]).split("||")]
            words = max(categories) // 32 + 1
            bits = [0] * words
            for c in categories:
                bits[c // 32] |= 1 << (c % 32)
            start = len(self.cat_bits)
            self.cat_bits.extend(bits)
            self.node_int.append((int(node["split_feature"]), CATEGORICAL, missing, default_left, start, words))
            self.node_value.append((0.0, 0.0))
        else:
            raise UnsupportedModelError(f"unknown decision_type {decision!r}")

    def _add_leaf(self, leaf: dict[str, Any], path: list[tuple[int, int, int, float]], root_count: float) -> None:
        if "leaf_coeff" in leaf:
            raise UnsupportedModelError("linear trees (linear_tree=true) are not supported")
        slots: dict[int, int] = {}  # feature → slot, in order of first appearance on the path
        zero: list[float] = []
        step_start = len(self.step_int)
        for index, left, feature, fraction in path:
            if feature not in slots:
                slots[feature] = len(slots)
                zero.append(1.0)
            slot = slots[feature]
            zero[slot] *= fraction  # a feature split twice on the path: its fractions multiply
            self.step_int.append((index, left, slot))
        self.leaf_int.append((step_start, len(path), len(self.leaf_feature), len(slots)))
        self.leaf_feature.extend(slots)
        self.leaf_zero_fraction.extend(zero)
        self.leaf_value.append(float(leaf["leaf_value"]))
        self.leaf_share.append(float(leaf["leaf_count"]) / root_count if root_count > 0 else 0.0)

    def finish(self, n_features: int) -> Forest:
        return Forest(
            n_features=n_features,
            node_int=np.array(self.node_int, dtype=np.int32).reshape(-1, 6),
            node_value=np.array(self.node_value, dtype=np.float64).reshape(-1, 2),
            cat_bits=np.array(self.cat_bits, dtype=np.uint32),
            tree_int=np.array(self.tree_int, dtype=np.int64).reshape(-1, 4),
            leaf_value=np.array(self.leaf_value, dtype=np.float64),
            leaf_share=np.array(self.leaf_share, dtype=np.float64),
            leaf_int=np.array(self.leaf_int, dtype=np.int64).reshape(-1, 4),
            step_int=np.array(self.step_int, dtype=np.int32).reshape(-1, 3),
            leaf_feature=np.array(self.leaf_feature, dtype=np.int32),
            leaf_zero_fraction=np.array(self.leaf_zero_fraction, dtype=np.float64),
        )
