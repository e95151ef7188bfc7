"""What a gate figure would read by chance alone, so that the gate fails real problems and passes noise.

An absolute limit ignores sample size. On a few hundred test households a perfectly calibrated model shows an
expected calibration error well above 0.02, and two groups of one county differ in their true-positive rate by
more than 0.3 when the groups are drawn at random. Each figure here is the 95th percentile of the statistic under
the hypothesis that there is nothing to find (the 99th for calibration, see below):

- calibration: labels drawn from the model's own probabilities (y ~ Bernoulli(p)), i.e. a model that is
  calibrated by construction on exactly these households, binned as the real ECE is;
- fairness: the same labels and the same visit list (top 5 %), with the group labels shuffled among households,
  i.e. groups that cannot differ except by chance.

The gate (training.registry) fails a figure only when it is both above its limit and above its chance level.
Each gap also gets a bootstrap interval (households resampled, visit list kept), so a report shows how far the
gap itself could move on another sample of the same size. Draws are seeded: the same scores give the same
chance levels and intervals.

A percentile taken from a few hundred draws sits slightly below the true one, and the ECE of a few hundred
households takes few distinct values, so a model calibrated by construction passes a 95th-percentile level
somewhat less often than 95 % of the time. The gate promises that such a model passes at least 95 % of the time,
so calibration is judged at the 99th percentile, read as the order statistic whose expected coverage is at least
that level (rank ⌈0.99 · (draws + 1)⌉). Both promises, and that a model off by a factor of two still fails on
survey-sized test sets, are property tests in tests/training/test_chance.py.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

DRAWS: Final = 200
QUANTILE: Final = 0.95
ECE_QUANTILE: Final = 0.99


def ece_by_chance(
    p: np.ndarray, *, bins: int = 15, draws: int = DRAWS, seed: int = 0, weights: np.ndarray | None = None
) -> float:
    """The 99th percentile of the ECE of a perfectly calibrated model with probabilities `p` (equal-mass bins,
    as `training.metrics.expected_calibration_error`, weighted as it is), as the draws' order statistic (module
    docstring). Weights make the level higher: a few heavy rows carry much of each bin."""
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return float("nan")
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(p, kind="stable")
    bin_of = np.empty(len(p), dtype=np.int64)
    for b, chunk in enumerate(np.array_split(order, bins)):
        bin_of[chunk] = b
    sizes = np.bincount(bin_of, weights=w, minlength=bins)
    mean_p = np.bincount(bin_of, weights=w * p, minlength=bins) / np.maximum(sizes, 1e-12)
    rng = np.random.default_rng(seed)
    values = np.empty(draws)
    for i in range(draws):
        y = rng.random(len(p)) < p
        mean_y = np.bincount(bin_of, weights=w * y, minlength=bins) / np.maximum(sizes, 1e-12)
        values[i] = float(np.sum(sizes / w.sum() * np.abs(mean_y - mean_p)))
    rank = min(draws, math.ceil(ECE_QUANTILE * (draws + 1)))
    return float(np.sort(values)[rank - 1])


def tpr_gap(y: np.ndarray, selected: np.ndarray, codes: np.ndarray, groups: int, min_positives: int) -> float:
    """Largest minus smallest true-positive rate among groups with at least `min_positives` positives."""
    positives = np.bincount(codes, weights=y, minlength=groups)
    found = np.bincount(codes, weights=y * selected, minlength=groups)
    eligible = positives >= min_positives
    if eligible.sum() < 2:
        return float("nan")
    rates = found[eligible] / positives[eligible]
    return float(rates.max() - rates.min())


def tpr_gap_by_chance(
    y: np.ndarray, selected: np.ndarray, sensitive: np.ndarray, *, min_positives: int, draws: int = DRAWS, seed: int = 0
) -> float:
    """The 95th percentile of the true-positive-rate gap when `sensitive` is shuffled among the households."""
    y, selected = np.asarray(y, dtype=float), np.asarray(selected, dtype=float)
    codes, groups = _group_codes(sensitive)
    rng = np.random.default_rng(seed)
    values = [tpr_gap(y, selected, rng.permutation(codes), groups, min_positives) for _ in range(draws)]
    finite = [v for v in values if v == v]
    return float(np.quantile(finite, QUANTILE)) if finite else float("nan")


def tpr_gap_interval(
    y: np.ndarray,
    selected: np.ndarray,
    sensitive: np.ndarray,
    *,
    min_positives: int,
    draws: int = DRAWS,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap interval of the true-positive-rate gap: households resampled with replacement, each keeping its
    group and whether it was visited. (NaN, NaN) when no resample has two groups to compare.

    A gap is a range (largest minus smallest rate), and resampling adds noise to every group's rate, so the
    resampled gaps sit above the observed one — far above it with many small groups, such as counties. The
    percentile interval is therefore shifted down by that bias (the median resampled gap minus the observed gap)
    and floored at 0."""
    y, selected = np.asarray(y, dtype=float), np.asarray(selected, dtype=float)
    codes, groups = _group_codes(sensitive)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        idx = rng.integers(0, len(y), len(y))
        values.append(tpr_gap(y[idx], selected[idx], codes[idx], groups, min_positives))
    finite = [v for v in values if v == v]
    if not finite:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    observed = tpr_gap(y, selected, codes, groups, min_positives)
    bias = float(np.median(finite)) - observed if observed == observed else 0.0
    return max(float(low) - bias, 0.0), max(float(high) - bias, 0.0)


def _group_codes(sensitive: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes of the group labels and the number of groups."""
    _, codes = np.unique(np.asarray(sensitive, dtype=object).astype(str), return_inverse=True)
    return codes, int(codes.max()) + 1 if len(codes) else 0


def passes(value: float, limit: float, chance: float | None) -> bool:
    """The gate's rule: within the limit, or within what the figure reads by chance (when that is known)."""
    return value <= limit or (chance is not None and chance == chance and value <= chance)
