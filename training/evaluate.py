"""Evaluation of one model on one period: ranking, calibration, lift over the rules, fairness.

Everything here takes scores that were already computed, so the same code evaluates the model, the official
rules and any challenger. Fairness follows the monitoring question "does the model find households in need
equally well across groups?": the true-positive rate among the households a township would visit (top 5 %),
and calibration (mean predicted vs observed rate) by group, with fairlearn's MetricFrame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from training.chance import ece_by_chance, tpr_gap_by_chance, tpr_gap_interval
from training.metrics import (
    CAPACITIES,
    bootstrap_ci,
    expected_calibration_error,
    ranking_metrics,
    recall_at,
    top_k_mask,
)

FAIRNESS_CAPACITY = 0.05
MIN_GROUP_POSITIVES = 10  # smaller groups are reported but left out of the gap (too noisy to act on)


@dataclass
class Evaluation:
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    rules: dict[str, float]
    lift: dict[str, float]
    fairness: pd.DataFrame  # one row per (attribute, group)
    fairness_gaps: dict[str, float]
    extra: dict[str, float] = field(default_factory=dict)
    # What the gate figures would read by chance on this test set (training.chance): "ece" and one per attribute.
    chance: dict[str, float] = field(default_factory=dict)
    # The 95 % bootstrap interval of each attribute's true-positive-rate gap (training.chance.tpr_gap_interval).
    gap_intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def flat(self) -> dict[str, float]:
        """All figures as MLflow metric names."""
        out = {f"test_{k}": v for k, v in self.metrics.items()}
        for k, (lo, hi) in self.intervals.items():
            out[f"test_{k}_ci_low"], out[f"test_{k}_ci_high"] = lo, hi
        out.update({f"rules_{k}": v for k, v in self.rules.items()})
        out.update({f"lift_{k}": v for k, v in self.lift.items()})
        out.update({f"fairness_tpr_gap_{k}": v for k, v in self.fairness_gaps.items()})
        out.update({f"chance_{k}": v for k, v in self.chance.items()})
        for k, (lo, hi) in self.gap_intervals.items():
            out[f"tpr_gap_ci_low_{k}"], out[f"tpr_gap_ci_high_{k}"] = lo, hi
        out.update(self.extra)
        return {k: float(v) for k, v in out.items() if v == v}  # drop NaN


def evaluate(
    y: np.ndarray,
    p: np.ndarray,
    rule_scores: np.ndarray | None,
    groups: pd.DataFrame,
    *,
    n_boot: int = 200,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> Evaluation:
    """The test period's figures. `weights`, for a label observed for some households only (need_12m's inverse
    probability-of-observation weights), weight the calibration figures — ECE, its interval and chance level,
    Brier score and base rate — which judge the probabilities against the population the model is calibrated to;
    the ranking figures stay those of the observed households."""
    y = np.asarray(y, dtype=int)
    w = None if weights is None else np.asarray(weights, dtype=float)
    metrics = ranking_metrics(y, p)
    if w is not None:
        metrics["ece"] = expected_calibration_error(y, p, weights=w)
        metrics["brier"] = float(np.average((np.asarray(p) - y) ** 2, weights=w))
        metrics["base_rate"] = float(np.average(y, weights=w))
    intervals = {
        "pr_auc": bootstrap_ci(y, p, lambda a, b: ranking_metrics(a, b)["pr_auc"], n_boot=n_boot, seed=seed),
        "recall_at_5pct": bootstrap_ci(y, p, lambda a, b: recall_at(a, b, 0.05), n_boot=n_boot, seed=seed),
        "roc_auc": bootstrap_ci(y, p, lambda a, b: ranking_metrics(a, b)["roc_auc"], n_boot=n_boot, seed=seed),
        "ece": bootstrap_ci(y, p, expected_calibration_error, n_boot=n_boot, seed=seed, weights=w),
    }
    rules: dict[str, float] = {}
    lift: dict[str, float] = {}
    if rule_scores is not None:
        rules = ranking_metrics(y, rank_scores_as_unit_interval(rule_scores))
        rules = {k: v for k, v in rules.items() if k not in ("brier", "ece")}
        lift["pr_auc"] = metrics["pr_auc"] / rules["pr_auc"] if rules["pr_auc"] else float("nan")
        for share in CAPACITIES:
            pct = round(share * 100)
            r = rules[f"recall_at_{pct}pct"]
            lift[f"recall_at_{pct}pct"] = metrics[f"recall_at_{pct}pct"] / r if r else float("nan")
    fairness, gaps = fairness_table(y, p, groups)
    chance = {"ece": ece_by_chance(p, seed=seed, weights=w)}
    selected = top_k_mask(p, FAIRNESS_CAPACITY)
    gap_intervals = {}
    for attribute in groups.columns:
        sensitive = groups[attribute].astype("string").fillna("unknown").to_numpy()
        chance[f"tpr_gap_{attribute}"] = tpr_gap_by_chance(
            y, selected, sensitive, min_positives=MIN_GROUP_POSITIVES, seed=seed
        )
        gap_intervals[attribute] = tpr_gap_interval(
            y, selected, sensitive, min_positives=MIN_GROUP_POSITIVES, draws=n_boot, seed=seed
        )
    return Evaluation(metrics, intervals, rules, lift, fairness, gaps, chance=chance, gap_intervals=gap_intervals)


def rank_scores_as_unit_interval(scores: np.ndarray) -> np.ndarray:
    """Rule scores are ranks, not probabilities; only their order is used (AUCs and capacity metrics)."""
    s = np.asarray(scores, dtype=float)
    return (s - s.min()) / (s.max() - s.min()) if s.max() > s.min() else np.zeros_like(s)


FAIRNESS_COLUMNS = (
    "attribute",
    "group",
    "households",
    "positives",
    "tpr_at_5pct",
    "observed_rate",
    "mean_predicted",
    "calibration_gap",
)


def fairness_table(y: np.ndarray, p: np.ndarray, groups: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    selected = top_k_mask(p, FAIRNESS_CAPACITY).astype(int)
    rows, gaps = [], {}
    for attribute in groups.columns:
        sensitive = groups[attribute].astype("string").fillna("unknown").to_numpy()
        frame = MetricFrame(
            metrics={
                "households": lambda yt, yp: len(yt),
                "positives": lambda yt, yp: int(np.sum(yt)),
                "tpr_at_5pct": lambda yt, yp: float(np.sum(yt * yp) / np.sum(yt)) if np.sum(yt) else np.nan,
                "observed_rate": lambda yt, yp: float(np.mean(yt)),
            },
            y_true=y,
            y_pred=selected,
            sensitive_features=sensitive,
        )
        table = frame.by_group.reset_index()
        table.columns = ["group", *table.columns[1:]]
        mean_p = pd.Series(p).groupby(sensitive).mean()
        table["mean_predicted"] = table["group"].map(mean_p)
        table["calibration_gap"] = table["mean_predicted"] - table["observed_rate"]
        table.insert(0, "attribute", attribute)
        rows.append(table)
        eligible = table[table["positives"] >= MIN_GROUP_POSITIVES]["tpr_at_5pct"].dropna()
        gaps[attribute] = float(eligible.max() - eligible.min()) if len(eligible) >= 2 else float("nan")
    if not rows:  # no group columns (bring-your-own data without --group): nothing to compare
        return pd.DataFrame(columns=FAIRNESS_COLUMNS), gaps
    return pd.concat(rows, ignore_index=True), gaps
