"""The gate knows its sample size: figures that noise alone explains pass, real problems fail (training.chance)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from training.chance import ece_by_chance, passes, tpr_gap_by_chance
from training.evaluate import FAIRNESS_CAPACITY, MIN_GROUP_POSITIVES, evaluate
from training.metrics import expected_calibration_error, top_k_mask

ECE_LIMIT, GAP_LIMIT = 0.02, 0.35


def _probabilities(n: int, rng: np.random.Generator) -> np.ndarray:
    """Risk scores shaped like the demo's: a few percent on average, a long upper tail."""
    return np.clip(rng.beta(0.6, 12.0, n), 1e-4, 0.95)


def test_a_perfectly_calibrated_model_on_595_households_passes_the_calibration_gate() -> None:
    """The absolute limit alone fails such a model often; with its chance level it passes at least 95 % of runs."""
    absolute, judged = [], []
    for seed in range(100):
        rng = np.random.default_rng(seed)
        p = _probabilities(595, rng)
        y = (rng.random(595) < p).astype(int)
        ece = expected_calibration_error(y, p)
        absolute.append(ece <= ECE_LIMIT)
        judged.append(passes(ece, ECE_LIMIT, ece_by_chance(p, seed=seed + 1000)))
    assert np.mean(absolute) < 0.6
    assert np.mean(judged) >= 0.95


def test_a_miscalibrated_model_on_enough_households_fails() -> None:
    rng = np.random.default_rng(3)
    p = _probabilities(20_000, rng)
    y = (rng.random(20_000) < p).astype(int)
    shown = np.clip(p * 2.0, 0, 1)  # twice the true risk
    ece = expected_calibration_error(y, shown)
    chance = ece_by_chance(shown)
    assert ece > ECE_LIMIT and ece > chance and not passes(ece, ECE_LIMIT, chance)


def _survey_probabilities(n: int, rng: np.random.Generator) -> np.ndarray:
    """Risk scores shaped like a household survey's outcome: a fifth positive on average, spread widely."""
    return np.clip(rng.beta(2.0, 8.0, n), 1e-4, 0.99)


SURVEY_SIZES = (300, 800, 2_000)


@pytest.mark.parametrize("shape", [_probabilities, _survey_probabilities], ids=["demo-like", "survey-like"])
def test_on_survey_sized_test_sets_a_calibrated_model_passes_and_a_doubled_risk_fails(shape: Any) -> None:
    """The gate's promise at every size a survey gives: labels drawn from the model's own probabilities pass the
    calibration check in at least 95 % of draws, and the same model reporting twice the risk fails."""
    for n in SURVEY_SIZES:
        verdicts = []
        for seed in range(120):
            rng = np.random.default_rng([n, seed])
            p = shape(n, rng)
            y = (rng.random(n) < p).astype(int)
            verdicts.append(passes(expected_calibration_error(y, p), ECE_LIMIT, ece_by_chance(p, seed=seed)))
        # Seeded draws; at the gate's 99 % level, fewer than 114 passes in 120 has a binomial chance below 1 in 1,000
        assert np.mean(verdicts) >= 0.95, (n, np.mean(verdicts))

    failed = []
    for seed in range(40):
        rng = np.random.default_rng([7, seed])
        p = shape(SURVEY_SIZES[-1], rng)
        y = (rng.random(len(p)) < p).astype(int)
        shown = np.clip(p * 2.0, 0, 1)
        failed.append(not passes(expected_calibration_error(y, shown), ECE_LIMIT, ece_by_chance(shown, seed=seed)))
    assert np.mean(failed) >= 0.95


def test_the_calibration_chance_level_is_the_draws_order_statistic_of_rank_099_of_draws_plus_one() -> None:
    """Computed by hand: the ECE of each seeded draw, sorted, read at rank ceil(0.99 * 201) = 199."""
    rng = np.random.default_rng(4)
    p = _probabilities(450, rng)
    order = np.argsort(p, kind="stable")
    bins = np.array_split(order, 15)
    draws = np.random.default_rng(9)
    values = []
    for _ in range(200):
        y = draws.random(len(p)) < p
        values.append(sum(len(b) / len(p) * abs(y[b].mean() - p[b].mean()) for b in bins))
    assert ece_by_chance(p, seed=9) == pytest.approx(sorted(values)[198])


def test_the_chance_level_of_ece_shrinks_as_the_test_set_grows() -> None:
    rng = np.random.default_rng(5)
    small, large = _probabilities(600, rng), _probabilities(60_000, rng)
    assert ece_by_chance(small) > 2 * ece_by_chance(large)


def _groups_and_labels(seed: int, n: int = 3_000, groups: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = _probabilities(n, rng)
    y = (rng.random(n) < p).astype(float)
    return p, y, rng.integers(0, groups, n).astype(str)


@pytest.mark.slow
def test_random_groups_pass_the_fairness_gate_and_a_real_gap_fails() -> None:
    judged = []
    for seed in range(25):
        p, y, group = _groups_and_labels(seed)
        selected = top_k_mask(p, FAIRNESS_CAPACITY)
        evaluation = evaluate(y, p, None, pd.DataFrame({"county": group}), n_boot=3, seed=seed)
        gap = evaluation.fairness_gaps["county"]
        judged.append(gap != gap or passes(gap, GAP_LIMIT, evaluation.chance["tpr_gap_county"]))
        assert evaluation.chance["tpr_gap_county"] == tpr_gap_by_chance(
            y, selected, group, min_positives=MIN_GROUP_POSITIVES, seed=seed
        )
    assert np.mean(judged) >= 0.9

    # One group's households in need are never on the visit list: a gap no shuffle of the labels produces.
    p, y, group = _groups_and_labels(99)
    hidden = (group == "0") & (y == 1)
    p = np.where(hidden, 1e-5, p)
    evaluation = evaluate(y, p, None, pd.DataFrame({"county": group}), n_boot=20)
    gap, chance = evaluation.fairness_gaps["county"], evaluation.chance["tpr_gap_county"]
    assert gap > GAP_LIMIT and gap > chance and not passes(gap, GAP_LIMIT, chance)


def test_the_evaluation_records_the_chance_levels_and_the_ece_interval() -> None:
    p, y, group = _groups_and_labels(1)
    flat = evaluate(y, p, None, pd.DataFrame({"county": group}), n_boot=30).flat()
    assert {"chance_ece", "chance_tpr_gap_county", "test_ece_ci_low", "test_ece_ci_high"} <= set(flat)
    assert flat["test_ece_ci_low"] <= flat["test_ece"] <= flat["test_ece_ci_high"] + 1e-12
