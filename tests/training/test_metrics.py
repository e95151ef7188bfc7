"""Metrics against hand-computed cases and simple reference implementations."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import bootstrap_ci, expected_calibration_error, precision_at, recall_at, top_k_mask


def test_top_k_takes_the_ceiling_and_breaks_ties_by_position() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.1, 0.5])
    assert top_k_mask(scores, 0.4).tolist() == [True, True, False, False, False]
    assert top_k_mask(scores, 0.5).tolist() == [True, True, True, False, False]


@pytest.mark.parametrize(
    ("share", "recall", "precision"),
    [(0.2, 1 / 3, 1.0), (0.4, 2 / 3, 1.0), (0.6, 2 / 3, 2 / 3), (1.0, 1.0, 0.6)],
)
def test_recall_and_precision_at_capacity(share: float, recall: float, precision: float) -> None:
    y = np.array([1, 0, 1, 1, 0])
    scores = np.array([0.9, 0.2, 0.8, 0.1, 0.7])
    assert recall_at(y, scores, share) == pytest.approx(recall)
    assert precision_at(y, scores, share) == pytest.approx(precision)


def test_ece_is_zero_for_perfectly_calibrated_bins_and_matches_hand_computation() -> None:
    p = np.repeat([0.1, 0.5], 10)
    y = np.r_[np.array([1] + [0] * 9), np.array([1] * 5 + [0] * 5)]
    assert expected_calibration_error(y, p, bins=2) == pytest.approx(0.0)
    # Always predicting 0.3 for a 10 % base rate: one bin is off by 0.2; in five bins of two (ties keep
    # their order, so the positive lands in the first) 0.2·|0.5 − 0.3| + 0.8·|0 − 0.3| = 0.28.
    y, p = np.array([1] + [0] * 9), np.full(10, 0.3)
    assert expected_calibration_error(y, p, bins=1) == pytest.approx(0.2)
    assert expected_calibration_error(y, p, bins=5) == pytest.approx(0.28)


def test_weighted_ece_matches_hand_computation_and_equal_weights_change_nothing() -> None:
    # Two bins of two: (p 0.1, y 1, w 1), (0.1, 0, 3) → weighted mean y 0.25, |0.25 − 0.1| = 0.15, share 4/6;
    # (0.5, 1, 1), (0.5, 1, 1) → |1 − 0.5| = 0.5, share 2/6. 0.15 · 4/6 + 0.5 · 2/6 = 0.2667.
    y, p, w = np.array([1, 0, 1, 1]), np.array([0.1, 0.1, 0.5, 0.5]), np.array([1.0, 3.0, 1.0, 1.0])
    assert expected_calibration_error(y, p, bins=2, weights=w) == pytest.approx(0.15 * 4 / 6 + 0.5 * 2 / 6)
    assert expected_calibration_error(y, p, bins=2) == pytest.approx(0.5 * 0.4 + 0.5 * 0.5)  # unweighted
    rng = np.random.default_rng(4)
    y, p = (rng.random(500) < 0.2).astype(int), rng.random(500)
    assert expected_calibration_error(y, p, weights=np.full(500, 2.5)) == pytest.approx(
        expected_calibration_error(y, p)
    )


def test_bootstrap_interval_contains_the_point_estimate_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(2_000) < 0.1
    p = np.clip(y * 0.3 + rng.random(2_000) * 0.5, 0, 1)
    point = recall_at(y, p, 0.05)
    ci = bootstrap_ci(y, p, lambda a, b: recall_at(a, b, 0.05), n_boot=100, seed=3)
    assert ci[0] <= point <= ci[1]
    assert ci == bootstrap_ci(y, p, lambda a, b: recall_at(a, b, 0.05), n_boot=100, seed=3)
