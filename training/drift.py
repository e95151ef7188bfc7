"""Reference distributions stored with each training run, and the drift of a later table against them (PSI).

At training, every model feature and the model's score on the held-out test rows (the latest labelled period,
the rows the model's figures describe) are summarised as bin counts: ten quantile bins for numbers (fewer when
values tie), one bin per known category for categories, and one bin for missing values. The summary is a small
JSON artifact of the run (`reference_distributions.json`); no row is stored.

A later table is binned with the same edges and compared by the population stability index,
PSI = Σ (a − e) · ln(a / e) over bins, with e and a the reference and later shares. It is computed with numpy:
it is a few lines on stored counts, and the drift libraries (evidently, nannyml) want the reference rows
themselves, which the run does not keep. Alert levels are the credit-scoring convention (`assumed` here):
below 0.1 stable, 0.1 to 0.25 watch, 0.25 and above act (look at the feature, then consider retraining).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from models.risk_model import FeatureSpec

REFERENCE_FILE: Final = "reference_distributions.json"
SCORE: Final = "score"
WATCH: Final = 0.1
ACT: Final = 0.25
QUANTILE_BINS: Final = 10
# An empty bin would make ln(a / e) infinite; a share floor keeps one empty bin from dominating the sum.
SHARE_FLOOR: Final = 1e-4
OTHER: Final = "(other)"


def _numeric_edges(values: pd.Series) -> list[float]:
    """Interior bin edges: the reference's deciles, ties merged (a count feature has fewer bins)."""
    known = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
    if not len(known):
        return []
    quantiles = np.quantile(known, np.linspace(0, 1, QUANTILE_BINS + 1)[1:-1])
    return [float(q) for q in np.unique(quantiles)]


def _numeric_counts(values: pd.Series, edges: Sequence[float]) -> list[int]:
    """Counts per bin: len(edges) + 1 bins closed on the right, then one bin of missing values."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(float)
    known = x[~np.isnan(x)]
    bins = np.searchsorted(np.asarray(edges, dtype=float), known, side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1).tolist()
    return [int(c) for c in counts] + [int(np.isnan(x).sum())]


def _category_counts(values: pd.Series, categories: Sequence[str]) -> list[int]:
    """Counts per known category, then unseen categories, then missing values."""
    text = values.astype(object).where(values.notna(), None)
    known = [int((text == c).sum()) for c in categories]
    missing = int(text.isna().sum())
    return [*known, len(text) - sum(known) - missing, missing]


def _describe(values: pd.Series, kind: str) -> dict[str, Any]:
    if kind == "category":
        categories = sorted(str(c) for c in values.dropna().astype(str).unique())
        return {"kind": "category", "categories": categories, "counts": _category_counts(values, categories)}
    edges = _numeric_edges(values)
    return {"kind": "number", "edges": edges, "counts": _numeric_counts(values, edges)}


def reference_distributions(rows: pd.DataFrame, features: Sequence[FeatureSpec], scores: np.ndarray) -> dict[str, Any]:
    """The JSON-ready summary of the features of `rows` and of the model's `scores` on them."""
    described = {f.name: _describe(rows[f.name], "category" if f.kind == "category" else "number") for f in features}
    return {
        "rows": len(rows),
        "bins": {"quantiles": QUANTILE_BINS, "share_floor": SHARE_FLOOR},
        "features": described,
        SCORE: _describe(pd.Series(np.asarray(scores, dtype=float)), "number"),
    }


def psi(expected: Sequence[int], actual: Sequence[int]) -> float:
    """Population stability index of two count vectors over the same bins."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = np.maximum(e / max(e.sum(), 1.0), SHARE_FLOOR)
    a = np.maximum(a / max(a.sum(), 1.0), SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def level(value: float) -> str:
    """'act', 'watch' or 'stable' for a PSI."""
    return "act" if value >= ACT else "watch" if value >= WATCH else "stable"


def _later_counts(values: pd.Series, described: dict[str, Any]) -> list[int]:
    if described["kind"] == "category":
        return _category_counts(values, described["categories"])
    return _numeric_counts(values, described["edges"])


@dataclass(frozen=True)
class Drift:
    """PSI of each feature and of the score, a later table against the training reference."""

    rows: int
    reference_rows: int
    features: dict[str, float]
    score: float

    def top(self, n: int = 10) -> list[tuple[str, float, str]]:
        """The n most drifted features, most drifted first: (name, PSI, level)."""
        ranked = sorted(self.features.items(), key=lambda item: -item[1])[:n]
        return [(name, value, level(value)) for name, value in ranked]

    def flat(self) -> dict[str, float]:
        """MLflow metric names: psi_<feature>, psi_score, and the count of features at each alert level."""
        levels = [level(v) for v in self.features.values()]
        flat = {**{f"psi_{name}": value for name, value in self.features.items()}, "psi_score": self.score}
        if self.features:  # the served scores carry no features: no count rather than a count of none
            flat["drift_features_watch"] = float(levels.count("watch"))
            flat["drift_features_act"] = float(levels.count("act"))
        return flat


def drift_against(reference: dict[str, Any], rows: pd.DataFrame, scores: np.ndarray) -> Drift:
    """The drift of `rows` (the model's feature columns, parsed) and their `scores` against a stored reference."""
    features = {
        name: psi(described["counts"], _later_counts(rows[name], described))
        for name, described in reference["features"].items()
        if name in rows.columns
    }
    later_score = _later_counts(pd.Series(np.asarray(scores, dtype=float)), reference[SCORE])
    return Drift(len(rows), int(reference["rows"]), features, psi(reference[SCORE]["counts"], later_score))
