"""The gate knows its sample size: figures that noise alone explains pass, real problems fail (training.chance)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from training.chance import ece_by_chance, passes, tpr_gap, tpr_gap_by_chance, tpr_gap_interval
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


def test_a_model_calibrated_to_the_population_passes_on_a_sample_that_observes_positives_more_often() -> None:
    """The need label is observed for some households only, more often for those in need; the model is calibrated
    to the whole population (fitted with inverse-observation weights). Judged on the observed rows unweighted it
    looks miscalibrated; weighted, the calibration gate passes it as it passes a calibrated model (at least 95 of
    100 runs), and a model that doubles the risk still fails."""
    unweighted, judged, doubled = [], [], []
    for seed in range(100):
        rng = np.random.default_rng(seed)
        p = np.clip(_probabilities(6_000, rng) * 3, 0, 0.95)  # need is commoner than identification
        y = (rng.random(6_000) < p).astype(int)
        observed_with = np.where(y == 1, 0.8, 0.25)  # in need: observed more often
        seen = rng.random(6_000) < observed_with
        ys, ps, ws = y[seen], p[seen], 1 / observed_with[seen]
        unweighted.append(passes(expected_calibration_error(ys, ps), ECE_LIMIT, ece_by_chance(ps, seed=seed)))
        chance = ece_by_chance(ps, seed=seed, weights=ws)
        judged.append(passes(expected_calibration_error(ys, ps, weights=ws), ECE_LIMIT, chance))
        twice = np.clip(2 * ps, 0, 1)
        doubled.append(
            passes(
                expected_calibration_error(ys, twice, weights=ws),
                ECE_LIMIT,
                ece_by_chance(twice, seed=seed, weights=ws),
            )
        )
    assert np.mean(unweighted) < 0.05
    assert np.mean(judged) >= 0.95
    assert np.mean(doubled) < 0.05


def test_the_evaluation_weights_its_calibration_figures_only() -> None:
    p, y, group = _groups_and_labels(1)
    w = np.random.default_rng(2).uniform(1, 4, len(y))
    plain = evaluate(y, p, None, pd.DataFrame({"county": group}), n_boot=30).flat()
    weighted = evaluate(y, p, None, pd.DataFrame({"county": group}), n_boot=30, weights=w).flat()
    assert weighted["test_ece"] == pytest.approx(expected_calibration_error(y, p, weights=w))
    assert weighted["test_base_rate"] == pytest.approx(np.average(y, weights=w))
    assert weighted["test_ece_ci_low"] <= weighted["test_ece"] <= weighted["test_ece_ci_high"] + 1e-12
    assert weighted["chance_ece"] > plain["chance_ece"]  # fewer effective households
    assert (
        weighted["test_pr_auc"] == plain["test_pr_auc"]
        and weighted["test_recall_at_5pct"] == plain["test_recall_at_5pct"]
    )


def test_the_evaluation_records_the_chance_levels_and_the_ece_interval() -> None:
    p, y, group = _groups_and_labels(1)
    flat = evaluate(y, p, None, pd.DataFrame({"county": group}), n_boot=30).flat()
    assert {"chance_ece", "chance_tpr_gap_county", "test_ece_ci_low", "test_ece_ci_high"} <= set(flat)
    assert flat["tpr_gap_ci_low_county"] <= flat["fairness_tpr_gap_county"] <= flat["tpr_gap_ci_high_county"]
    assert flat["test_ece_ci_low"] <= flat["test_ece"] <= flat["test_ece_ci_high"] + 1e-12


def test_the_gap_interval_covers_the_gap_and_narrows_as_the_test_set_grows() -> None:
    widths = []
    for n in (2_000, 40_000):
        p, y, group = _groups_and_labels(7, n=n, groups=2)
        selected = top_k_mask(p, FAIRNESS_CAPACITY)
        codes = (group == "1").astype(np.int64)
        gap = tpr_gap(y, selected.astype(float), codes, 2, MIN_GROUP_POSITIVES)
        low, high = tpr_gap_interval(y, selected, group, min_positives=MIN_GROUP_POSITIVES, draws=200, seed=1)
        assert low <= gap <= high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # twenty times the households: the interval shrinks by about √20


def test_a_hand_computed_gap_and_a_degenerate_interval() -> None:
    # Group a: 2 in need, both visited (TPR 1); group b: 2 in need, one visited (TPR 0.5). Gap 0.5.
    y = np.array([1, 1, 0, 1, 1, 0], dtype=float)
    selected = np.array([1, 1, 0, 1, 0, 0], dtype=float)
    group = np.array(["a", "a", "a", "b", "b", "b"])
    assert tpr_gap(y, selected, (group == "b").astype(np.int64), 2, 1) == 0.5
    # One group only: nothing to compare, in every resample.
    low, high = tpr_gap_interval(y, selected, np.full(6, "a"), min_positives=1, draws=20)
    assert low != low and high != high


def _two_types(seed: int, hidden_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, scores, household type) of 4,000 households, 30 % former poor; `hidden_share` of the ordinary
    households in need are pushed off the visit list by their score."""
    rng = np.random.default_rng(seed)
    p = _probabilities(4_000, rng)
    y = (rng.random(4_000) < p).astype(float)
    group = np.where(rng.random(4_000) < 0.3, "former_poor", "ordinary")
    hidden = (group == "ordinary") & (y == 1) & (rng.random(4_000) < hidden_share)
    return y, np.where(hidden, p * 0.05, p), group


@pytest.mark.slow
def test_with_the_chance_level_alone_noise_passes_95_percent_and_a_planted_gap_fails() -> None:
    """No absolute limit (0), so only the chance level decides."""
    verdicts = []
    for seed in range(40):  # groups that differ only by chance: the chance level is the 95th percentile of such gaps
        y, score, group = _two_types(seed, hidden_share=0.0)
        selected = top_k_mask(score, FAIRNESS_CAPACITY)
        gap = tpr_gap(y, selected.astype(float), (group == "ordinary").astype(np.int64), 2, MIN_GROUP_POSITIVES)
        chance = tpr_gap_by_chance(y, selected, group, min_positives=MIN_GROUP_POSITIVES, seed=seed)
        verdicts.append(passes(gap, 0.0, chance))
    assert np.mean(verdicts) >= 0.95
    for seed in range(3):  # no ordinary household in need on the visit list: fails, the interval excludes 0
        y, score, group = _two_types(seed, hidden_share=1.0)
        flat = evaluate(y, score, None, pd.DataFrame({"household_type": group}), n_boot=50, seed=seed).flat()
        assert not passes(flat["fairness_tpr_gap_household_type"], 0.0, flat["chance_tpr_gap_household_type"])
        assert flat["tpr_gap_ci_low_household_type"] > 0.0


def test_the_gap_interval_of_many_small_groups_still_covers_the_gap() -> None:
    # 30 counties of about 330 households, 16 in need each: the resampled ranges sit above the observed one.
    p, y, group = _groups_and_labels(11, n=10_000, groups=30)
    selected = top_k_mask(p, FAIRNESS_CAPACITY).astype(float)
    _, codes = np.unique(group, return_inverse=True)
    gap = tpr_gap(y, selected, codes, 30, MIN_GROUP_POSITIVES)
    rng = np.random.default_rng(2)
    resampled = [
        tpr_gap(y[i], selected[i], codes[i], 30, MIN_GROUP_POSITIVES)
        for i in (rng.integers(0, len(y), len(y)) for _ in range(200))
    ]
    assert np.quantile(resampled, 0.025) > gap  # the plain percentile interval would miss the gap
    low, high = tpr_gap_interval(y, selected, group, min_positives=MIN_GROUP_POSITIVES, draws=200, seed=2)
    assert low <= gap <= high
