"""Evaluation plots logged with every run (PNG): people would rather look than read."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from training.metrics import recall_at  # noqa: E402


def roc_pr(y: np.ndarray, p: np.ndarray, rules: np.ndarray | None) -> Figure:
    """The model's curves, and the official rules' where there are rules (None: data without them)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    curves = [(p, "model")] + ([(rules, "official rules")] if rules is not None else [])
    for scores, label in curves:
        fpr, tpr, _ = roc_curve(y, scores)
        a.plot(fpr, tpr, label=label)
        precision, recall, _ = precision_recall_curve(y, scores)
        b.plot(recall, precision, label=label)
    a.plot([0, 1], [0, 1], ":", color="grey")
    a.set(title="ROC", xlabel="false-positive rate", ylabel="true-positive rate")
    b.axhline(np.mean(y), ls=":", color="grey", label="base rate")
    b.set(title="precision–recall", xlabel="recall", ylabel="precision")
    a.legend(), b.legend()
    fig.tight_layout()
    return fig


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 15) -> Figure:
    order = np.argsort(p, kind="stable")
    chunks = [c for c in np.array_split(order, bins) if len(c)]
    mean_p = [p[c].mean() for c in chunks]
    rate = [y[c].mean() for c in chunks]
    fig, ax = plt.subplots(figsize=(5, 4.5))
    top = max(max(mean_p), max(rate)) * 1.05
    ax.plot([0, top], [0, top], ":", color="grey", label="perfect")
    ax.plot(mean_p, rate, "o-", label="model (equal-mass bins)")
    ax.set(title="calibration", xlabel="mean predicted probability", ylabel="observed rate")
    ax.legend()
    fig.tight_layout()
    return fig


def lift_vs_rules(y: np.ndarray, p: np.ndarray, rules: np.ndarray | None) -> Figure:
    """Recall at equal workload for the model, the official rules (when there are any) and random visits."""
    shares = np.linspace(0.005, 0.3, 60)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.plot(shares * 100, [recall_at(y, p, s) for s in shares], label="model")
    if rules is not None:
        ax.plot(shares * 100, [recall_at(y, rules, s) for s in shares], label="official rules")
    ax.plot(shares * 100, shares, ":", color="grey", label="random visits")
    for cap in (1, 5, 10):
        ax.axvline(cap, color="lightgrey", lw=0.8)
    ax.set(
        title="households found at equal workload",
        xlabel="households visited (%)",
        ylabel="share of next year's identifications found",
    )
    ax.legend()
    fig.tight_layout()
    return fig


def backtest(table: pd.DataFrame) -> Figure:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    years = table["test_year"]
    a.plot(years, table["pr_auc"], "o-", label="model")
    a.plot(years, table["rules_pr_auc"], "s--", label="official rules")
    a.set(title="PR-AUC by test year", xlabel="year")
    b.plot(years, table["recall_at_5pct"], "o-", label="model")
    b.plot(years, table["rules_recall_at_5pct"], "s--", label="official rules")
    b.set(title="recall at 5 % of households", xlabel="year")
    for ax in (a, b):
        ax.set_xticks(list(years))
        ax.legend()
    fig.tight_layout()
    return fig


def shap_summary(contributions: pd.DataFrame, groups: dict[str, str], top: int = 20) -> Figure:
    """Mean |SHAP| (log-odds) per feature, coloured by the feature's group."""
    importance = contributions.abs().mean().sort_values(ascending=True).tail(top)
    palette = dict(zip(sorted(set(groups.values())), plt.get_cmap("tab20").colors, strict=False))  # type: ignore[attr-defined]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(importance) + 1.2))
    ax.barh(importance.index, importance.to_numpy(), color=[palette[groups[n]] for n in importance.index])
    ax.set(title="SHAP: mean |contribution| (log-odds)", xlabel="mean |contribution|")
    fig.tight_layout()
    return fig
