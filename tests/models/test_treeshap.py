"""TreeSHAP: exact against LightGBM's own pred_contrib and shap.TreeExplainer, additive, deterministic."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import shap

from models.treeshap import TREE_TABLE_MAX_SPLITS, TreeExplainer, UnsupportedModelError

N_FEATURES = 8
CATEGORICAL = (3, 6)
TOLERANCE = 1e-6


def make_data(seed: int, n: int, missing: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Numerical features with NaN, two categorical codes (also NaN), exact zeros, and a label using them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    x[:, 3] = rng.integers(0, 12, n)
    x[:, 6] = rng.integers(0, 40, n)
    x[:, 5] = np.where(rng.random(n) < 0.3, 0.0, x[:, 5])
    x[rng.random(x.shape) < missing] = np.nan
    logit = np.nan_to_num(x[:, 0]) - np.nan_to_num(x[:, 1]) + np.isin(x[:, 3], [1, 4, 7]) + 0.5 * np.isnan(x[:, 2])
    y = (logit + rng.normal(size=n) > 0.5).astype(int)
    return x, y


def make_test_rows(seed: int) -> np.ndarray:
    """Fresh rows plus the awkward values: unseen, negative, fractional and huge category codes, ±0, NaN."""
    x, _ = make_data(seed + 100, 300)
    x[0, 3], x[1, 3], x[2, 3], x[3, 3], x[4, 6] = 99, -1, 2.7, -0.5, 3e12
    x[5, :] = 0.0
    x[6, :] = -0.0
    x[7, :] = np.nan
    return x


def train(seed: int, rounds: int = 40, **params: Any) -> lgb.Booster:
    x, y = make_data(seed, 2_000)
    base = {
        "objective": "binary",
        "num_leaves": 7,
        "learning_rate": 0.1,
        "min_data_in_leaf": 10,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "max_cat_to_onehot": 4,
        "seed": seed,
        "deterministic": True,
        "num_threads": 1,
        "verbosity": -1,
    }
    data = lgb.Dataset(x, y, categorical_feature=list(CATEGORICAL))
    booster = lgb.train({**base, **params}, data, num_boost_round=rounds)
    # Reload from the text format, as RiskModel does.
    return lgb.Booster(model_str=booster.model_to_string())


def train_with_single_leaf_tree(seed: int) -> lgb.Booster:
    """First tree without a split (no leaf may hold fewer than all rows), then ordinary trees."""
    x, y = make_data(seed, 2_000)
    params = {"objective": "binary", "num_leaves": 7, "verbosity": -1, "num_threads": 1, "seed": seed}
    stump = lgb.train({**params, "min_data_in_leaf": 5_000}, lgb.Dataset(x, y, categorical_feature=list(CATEGORICAL)))
    booster = lgb.train(
        {**params, "min_data_in_leaf": 10},
        lgb.Dataset(x, y, categorical_feature=list(CATEGORICAL)),
        num_boost_round=20,
        init_model=stump,
    )
    assert booster.dump_model()["tree_info"][0]["num_leaves"] == 1
    return booster


MONOTONE = [1, -1, 0, 0, 1, 0, 0, -1]
CASES: dict[str, Any] = {
    "production-like (7 leaves, monotone)": lambda s: train(
        s, monotone_constraints=MONOTONE, monotone_constraints_method="advanced", feature_fraction=0.6
    ),
    "deep trees (63 leaves)": lambda s: train(s, rounds=15, num_leaves=63, min_data_in_leaf=3),
    "no missing values seen in training": lambda s: train(s, use_missing=False),
    "zero as missing": lambda s: train(s, zero_as_missing=True),
    "one-hot categorical splits": lambda s: train(s, max_cat_to_onehot=64),
    "single-leaf tree": train_with_single_leaf_tree,
    "regression objective": lambda s: train(s, objective="regression", num_leaves=15),
}


# What each case's model must contain, so that a case cannot silently stop testing what its name says.
CASE_CONTENTS: dict[str, set[str]] = {
    "production-like (7 leaves, monotone)": {"==", "<=", "missing NaN", "monotone"},
    "deep trees (63 leaves)": {"==", "<=", "missing NaN"},
    "no missing values seen in training": {"==", "<=", "missing None"},
    "zero as missing": {"==", "<=", "missing Zero"},
    "one-hot categorical splits": {"==", "<="},
    "single-leaf tree": {"single leaf", "=="},
    "regression objective": {"<="},
}


def model_contents(booster: lgb.Booster) -> set[str]:
    dump = booster.dump_model()
    found = {"monotone"} if any(dump.get("monotone_constraints") or []) else set()
    stack = [tree["tree_structure"] for tree in dump["tree_info"]]
    found |= {"single leaf" for node in stack if "split_index" not in node}
    while stack:
        node = stack.pop()
        if "split_index" in node:
            found |= {node["decision_type"]}
            if node["decision_type"] == "<=":
                found.add(f"missing {node['missing_type']}")
            stack += [node["left_child"], node["right_child"]]
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_each_case_contains_what_it_claims(case: str) -> None:
    assert CASE_CONTENTS[case] <= model_contents(CASES[case](0))


def lightgbm_contributions(booster: lgb.Booster, x: np.ndarray) -> np.ndarray:
    return np.asarray(booster.predict(x, pred_contrib=True, num_threads=1))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", list(CASES))
def test_equals_lightgbm_pred_contrib_and_adds_up_to_the_margin(case: str, seed: int) -> None:
    booster = CASES[case](seed)
    x = make_test_rows(seed)
    explainer = TreeExplainer(booster)
    phi = explainer.shap_values(x)
    reference = lightgbm_contributions(booster, x)
    np.testing.assert_allclose(phi, reference[:, :-1], rtol=0, atol=TOLERANCE)
    assert explainer.expected_value == pytest.approx(reference[0, -1], abs=TOLERANCE)
    margin = booster.predict(x, raw_score=True)
    np.testing.assert_allclose(phi.sum(axis=1) + explainer.expected_value, margin, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("max_table_bytes", [0, 4_096, 1 << 20])
def test_every_evaluation_path_gives_the_same_values(max_table_bytes: int) -> None:
    # Budget 0 forces the per-row formula everywhere; a small one mixes tables and formula within a model.
    booster = train(3, rounds=25, num_leaves=31, min_data_in_leaf=3)
    x = make_test_rows(3)
    explainer = TreeExplainer(booster, max_table_bytes=max_table_bytes)
    assert explainer.table_bytes <= max_table_bytes
    np.testing.assert_allclose(
        explainer.shap_values(x), lightgbm_contributions(booster, x)[:, :-1], rtol=0, atol=TOLERANCE
    )


def test_agrees_with_shap_tree_explainer() -> None:
    booster = train(4, monotone_constraints=MONOTONE)
    x = make_test_rows(4)
    reference = shap.TreeExplainer(booster)
    np.testing.assert_allclose(TreeExplainer(booster).shap_values(x), reference.shap_values(x), rtol=0, atol=TOLERANCE)
    assert TreeExplainer(booster).expected_value == pytest.approx(float(reference.expected_value), abs=TOLERANCE)


def test_values_are_deterministic_and_independent_of_the_batch() -> None:
    booster = train(5)
    x = make_test_rows(5)
    first = TreeExplainer(booster).shap_values(x)
    again = TreeExplainer(booster).shap_values(x)
    assert first.tobytes() == again.tobytes()
    order = np.random.default_rng(0).permutation(len(x))
    assert TreeExplainer(booster).shap_values(x[order]).tobytes() == first[order].tobytes()
    assert TreeExplainer(booster).shap_values(x[10:11]).tobytes() == first[10:11].tobytes()


def test_accepts_any_float_layout_and_an_empty_batch() -> None:
    booster = train(6, rounds=5)
    explainer = TreeExplainer(booster)
    x = make_test_rows(6)
    expected = explainer.shap_values(x)
    np.testing.assert_array_equal(explainer.shap_values(np.asfortranarray(x)), expected)
    np.testing.assert_array_equal(explainer.shap_values(x[::-1])[::-1], expected)
    single = x.astype(np.float32)
    np.testing.assert_array_equal(explainer.shap_values(single), explainer.shap_values(single.astype(np.float64)))
    assert explainer.shap_values(np.empty((0, N_FEATURES))).shape == (0, N_FEATURES)


def test_rejects_a_matrix_of_the_wrong_width() -> None:
    explainer = TreeExplainer(train(7, rounds=3))
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        explainer.shap_values(np.zeros((2, 7)))
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        explainer.shap_values(np.zeros(8))


def test_refuses_multiclass_and_linear_tree_models() -> None:
    x, _ = make_data(8, 600, missing=0.0)
    y3 = np.random.default_rng(8).integers(0, 3, 600)
    params = {"verbosity": -1, "num_leaves": 4, "num_threads": 1}
    multiclass = lgb.train({**params, "objective": "multiclass", "num_class": 3}, lgb.Dataset(x, y3), 2)
    with pytest.raises(UnsupportedModelError, match="multiclass"):
        TreeExplainer(multiclass)
    linear = lgb.train({**params, "objective": "regression", "linear_tree": True}, lgb.Dataset(x, x[:, 0]), 2)
    with pytest.raises(UnsupportedModelError, match="linear trees"):
        TreeExplainer(linear)


@pytest.mark.slow
@pytest.mark.benchmark
def test_benchmark_runs_and_reports_the_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.treeshap_bench import main

    main(["--model", "synthetic", "--trees", "5", "--batch", "300", "--repeats", "1", "--single", "5", "--no-compile"])
    out = capsys.readouterr().out
    assert "max |ours − pred_contrib|" in out
    assert "targets     batch" in out


def test_trees_of_the_default_size_are_tabulated_whole_and_exact() -> None:
    """The default model's trees have 11 leaves (10 splits): each gets a whole-tree table of 1,024 rows."""
    booster = train(5, num_leaves=11, min_data_in_leaf=3, monotone_constraints=MONOTONE)
    splits = [tree["num_leaves"] - 1 for tree in booster.dump_model()["tree_info"]]
    assert max(splits) == 10 and TREE_TABLE_MAX_SPLITS == 10
    explainer = TreeExplainer(booster)
    whole = explainer._tree_plan[:, 0] >= 0  # first column: the tree's table offset (−1: none)
    assert whole.all()
    x = make_test_rows(5)
    np.testing.assert_allclose(
        explainer.shap_values(x), lightgbm_contributions(booster, x)[:, :-1], rtol=0, atol=TOLERANCE
    )
