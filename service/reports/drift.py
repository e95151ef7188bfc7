"""Feature drift: the population stability index (PSI) of every model feature, current versus training data.

The model's artifacts carry no training-time distributions, and the service stores scores, not profiles; so
the comparison is computed where both populations exist — by `relapse report drift`, which builds profiles of
the source data at the model's last training date (the reference) and at a current date, with the same
`build_profiles` the model was trained and scored with — and written as a small JSON file per model version
under `<data dir>/reports/drift/`. The model report reads that file. Only histograms are kept (decile bins of
the reference, category shares): no household appears in it.

PSI = Σ (cur − ref) · ln(cur / ref) over bins, with shares floored at `EPSILON` so that an empty bin counts as
a large shift instead of an infinite one. Bands: < 0.10 stable, 0.10–0.25 watch, ≥ 0.25 warning (the usual
credit-scoring convention; configurable in the settings).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

EPSILON: Final = 1e-4
BINS: Final = 10
MISSING: Final = "__missing__"
Status = Literal["stable", "watch", "warning"]


@dataclass(frozen=True)
class Histogram:
    """Shares of one feature: numeric bins (right-open edges from the reference) or categories, plus missing."""

    feature: str
    kind: Literal["numeric", "category"]
    edges: list[float]  # inner edges; bins are (-inf, e0), [e0, e1), …, [e_last, inf)
    labels: list[str]  # category labels (category kind)
    shares: list[float]  # one per bin or label, then the missing share last


def _numeric_shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    present = values[~np.isnan(values)]
    counts = np.bincount(np.searchsorted(np.asarray(edges), present, side="right"), minlength=len(edges) + 1)
    total = max(len(values), 1)
    return [*(float(c) / total for c in counts), float(len(values) - len(present)) / total]


def reference_histogram(feature: str, column: pd.Series, kind: str) -> Histogram:
    """The reference's own decile edges (distinct values only) or category labels, and its shares."""
    if kind == "category":
        text = column.astype("string")
        labels = sorted(str(v) for v in text.dropna().unique())
        return Histogram(feature, "category", [], labels, category_shares(text, labels))
    values = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    present = values[~np.isnan(values)]
    quantiles = np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]) if len(present) else np.array([])
    edges = sorted({float(q) for q in quantiles})
    return Histogram(feature, "numeric", edges, [], _numeric_shares(values, edges))


def category_shares(text: pd.Series, labels: Sequence[str]) -> list[float]:
    total = max(len(text), 1)
    counts = text.value_counts(dropna=True)
    known = [float(counts.get(label, 0)) / total for label in labels]
    missing = float(text.isna().sum()) / total
    other = 1.0 - sum(known) - missing  # categories unseen in the reference
    return [*known, missing + max(other, 0.0)]


def current_shares(reference: Histogram, column: pd.Series) -> list[float]:
    """The current population's shares in the reference's bins."""
    if reference.kind == "category":
        return category_shares(column.astype("string"), reference.labels)
    values = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    return _numeric_shares(values, reference.edges)


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """Population stability index of two share vectors over the same bins."""
    if len(reference) != len(current):
        raise ValueError("reference and current need the same bins")
    total = 0.0
    for r, c in zip(reference, current, strict=True):
        r, c = max(r, EPSILON), max(c, EPSILON)
        total += (c - r) * math.log(c / r)
    return total


def status(value: float, watch: float, warning: float) -> Status:
    if value >= warning:
        return "warning"
    if value >= watch:
        return "watch"
    return "stable"


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    reference: Histogram
    current: list[float]


@dataclass(frozen=True)
class DriftReport:
    model_version: str
    reference_as_of: str
    reference_rows: int
    current_as_of: str
    current_rows: int
    synthetic: bool
    features: list[FeatureDrift]  # largest PSI first

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReport:
        features = [
            FeatureDrift(f["feature"], float(f["psi"]), Histogram(**f["reference"]), list(f["current"]))
            for f in data["features"]
        ]
        return cls(**{**data, "features": features})


def compare(
    model_version: str,
    features: Sequence[tuple[str, str]],
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    reference_as_of: str,
    current_as_of: str,
    synthetic: bool,
) -> DriftReport:
    """PSI of every (name, kind) feature of `current` against `reference`."""
    drifts = []
    for name, kind in features:
        histogram = reference_histogram(name, reference[name], kind)
        shares = current_shares(histogram, current[name])
        drifts.append(FeatureDrift(name, psi(histogram.shares, shares), histogram, shares))
    drifts.sort(key=lambda d: (-d.psi, d.feature))
    return DriftReport(model_version, reference_as_of, len(reference), current_as_of, len(current), synthetic, drifts)


def drift_path(data_dir: Path, model_version: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_version)
    return Path(data_dir) / "reports" / "drift" / f"{safe}.json"


def write_drift(report: DriftReport, data_dir: Path) -> Path:
    path = drift_path(data_dir, report.model_version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.to_json(), encoding="utf-8")
    return path


def read_drift(data_dir: Path, model_version: str) -> DriftReport | None:
    path = drift_path(data_dir, model_version)
    if not path.is_file():
        return None
    return DriftReport.from_dict(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class ScoreDrift:
    """The serving version's stored scores against the score distribution of its training run's test rows.

    The bins are the training run's (deciles of its test scores, closed on the right, as `training.drift` wrote
    them); shares are per bin, the missing bin left out (a stored probability is never missing). Stored scores carry
    no features, so this is the score's drift alone; feature drift is `DriftReport`'s."""

    model_version: str
    psi: float
    reference_rows: int
    current_rows: int
    scored_since: str  # the first day of the stored scores counted (UTC)
    edges: list[float]
    reference: list[float]
    current: list[float]


def score_drift(
    model_version: str, reference: dict[str, Any], reference_rows: int, counts: Sequence[int], scored_since: str
) -> ScoreDrift | None:
    """PSI of the stored scores' bin `counts` against the reference bins; None without a stored score.

    Shares are the counts over all bins, floored as in `psi`: the same index `training.drift` computes, so the
    report and `relapse monitor --from-service` agree on the same scores."""
    current_rows = int(sum(counts))
    if current_rows == 0:
        return None
    ref_counts = [float(c) for c in reference["counts"]]
    ref_total = max(sum(ref_counts), 1.0)
    ref_shares = [c / ref_total for c in ref_counts]
    cur_shares = [float(c) / current_rows for c in counts]
    return ScoreDrift(
        model_version,
        psi(ref_shares, cur_shares),
        reference_rows,
        current_rows,
        scored_since,
        [float(e) for e in reference["edges"]],
        ref_shares[:-1],
        cur_shares[:-1],
    )
