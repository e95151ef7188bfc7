"""Evaluation metrics for a risk ranking that grid workers act on.

Review capacity is the unit that matters: a township can visit its top k % of households, so recall and
precision are reported at k % of households, and the model is compared with the official-rule ranking at the
same workload. Ties are broken by a stable order so that the same scores give the same figures.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

CAPACITIES = (0.01, 0.05, 0.10)


def expected_calibration_error(
    y: np.ndarray, p: np.ndarray, bins: int = 15, weights: np.ndarray | None = None
) -> float:
    """ECE over equal-mass bins: Σ_b (n_b / n) · |mean(y)_b − mean(p)_b|.

    Equal-mass bins, because with a few percent positives equal-width bins leave the upper bins almost empty.
    With `weights` (a label observed for some households only, weighted by the inverse probability of
    observation), each bin's means and share are weighted: the calibration against the population the rows
    stand for, which is what a model fitted with those weights is calibrated to.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(p, kind="stable")
    total = w.sum()
    return float(
        sum(
            w[c].sum() / total * abs(np.average(y[c], weights=w[c]) - np.average(p[c], weights=w[c]))
            for c in np.array_split(order, bins)
            if len(c) and w[c].sum() > 0
        )
    )


def top_k_mask(scores: np.ndarray, share: float) -> np.ndarray:
    """The ceil(share · n) highest scores; ties resolved by position (stable), never at random."""
    n = len(scores)
    k = int(np.ceil(share * n))
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask


def recall_at(y: np.ndarray, scores: np.ndarray, share: float) -> float:
    positives = np.asarray(y).sum()
    return float(np.asarray(y)[top_k_mask(scores, share)].sum() / positives) if positives else float("nan")


def precision_at(y: np.ndarray, scores: np.ndarray, share: float) -> float:
    mask = top_k_mask(scores, share)
    return float(np.asarray(y)[mask].mean())


def ranking_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Every headline metric of one scored period."""
    y = np.asarray(y, dtype=int)
    out = {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "base_rate": float(y.mean()),
    }
    for share in CAPACITIES:
        pct = round(share * 100)
        out[f"recall_at_{pct}pct"] = recall_at(y, p, share)
        out[f"precision_at_{pct}pct"] = precision_at(y, p, share)
    return out


def bootstrap_ci(
    y: np.ndarray,
    p: np.ndarray,
    metric: Callable[..., float],
    *,
    n_boot: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a metric over households (resampled with replacement); with `weights`,
    each household keeps its weight and the metric is called as `metric(y, p, weights=…)`."""
    rng = np.random.default_rng(seed)
    y, p = np.asarray(y), np.asarray(p)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():
            continue
        values.append(metric(y[idx], p[idx]) if weights is None else metric(y[idx], p[idx], weights=weights[idx]))
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
