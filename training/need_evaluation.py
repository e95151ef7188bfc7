"""Need versus identification: which ranking finds the households in need, found by monitoring or not?

On a synthetic city, whose truth file (`_truth/need.parquet`, features/simulation/need.py) knows every household
in need, this fits the need model (label need_12m) and the identification model (identified_12m) exactly as
`relapse train` does (same snapshots, split, parameters and seed, no MLflow), scores the held-out reference date
and compares them with the official rules on the households not under monitoring on that date:

- recall at 1 / 5 / 10 % of those households, of *all* need in the 12 months after it (truth, found or not);
- the same recall at 5 % among ordinary (一般农户) and former poor (脱贫户) households in need, the households
  visited being the same top 5 % of everyone;
- the need model's expected calibration error against the truth, with a bootstrap interval;
- for each ranking, the gap between the two types' recall at 5 % with its chance level and bootstrap interval
  (training.chance), as the promotion gate judges it;
- with `--truth-ceiling`, a diagnostic ranking no deployment can have: the same model trained on the truth
  itself (every row labelled, no observation bias). It bounds what the features allow, so a shortfall it shares
  is one of information, not of the need label or its weights. It is never served.

    python -m training.need_evaluation --data DIR        # DIR: a city written by `relapse simulate`

Figures and the command's output: docs/model-quality.md, "Need versus identification".
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.profiles.rules import rule_scores
from features.reading.sources import Sources, read_sources
from training.chance import tpr_gap, tpr_gap_by_chance, tpr_gap_interval
from training.evaluate import MIN_GROUP_POSITIVES, rank_scores_as_unit_interval
from training.fit import fit_risk_model
from training.labels import build_snapshots, identified_in_window
from training.metrics import CAPACITIES, bootstrap_ci, expected_calibration_error, recall_at, top_k_mask
from training.pipeline import catalogue_features, default_as_of_dates
from training.settings import DEFAULT_SNAPSHOT_MONTHS
from training.split import latest_split

TRUTH_PATH = Path("_truth") / "need.parquet"
RANKINGS = ("need model", "identification model", "official rules", "need model, equal estimated recall by type")
CEILING = ("ceiling: trained on the truth", "ceiling, equal estimated recall by type")


@dataclass
class NeedComparison:
    table: pd.DataFrame  # one row per ranking: recall at each capacity, by household type
    ece: float
    ece_interval: tuple[float, float]
    households: int
    in_need: int
    test_date: pd.Timestamp

    def markdown(self) -> str:
        lines = [
            "| ranking | recall at 1 % | at 5 % | at 10 % | at 5 %, ordinary | at 5 %, former poor | ordinary ÷ former "
            "poor | gap (95 % interval; by chance up to) |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for row in self.table.itertuples():
            lines.append(
                f"| {row.ranking} | {row.recall_at_1pct:.3f} | {row.recall_at_5pct:.3f} | {row.recall_at_10pct:.3f} "
                f"| {row.recall_at_5pct_ordinary:.3f} | {row.recall_at_5pct_former_poor:.3f} "
                f"| {row.ordinary_to_former_poor:.2f} | {row.type_gap:.3f} ({row.type_gap_ci_low:.3f} – "
                f"{row.type_gap_ci_high:.3f}; {row.type_gap_chance:.3f}) |"
            )
        return "\n".join(lines)


def need_truth(truth: pd.DataFrame, household_ids: pd.Series, as_of: pd.Timestamp, horizon: pd.Timestamp) -> np.ndarray:
    """1 where the truth has the household in need with a need date in [as_of, horizon)."""
    when = pd.to_datetime(truth["need_date"])
    inside = truth.loc[((when >= as_of) & (when < horizon)).to_numpy(), "household_id"]
    return household_ids.isin(inside).to_numpy(dtype=np.int8)


def equal_recall_score(p: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """A re-ranking of calibrated probabilities that spends the visits so that every group reaches the same
    *estimated* recall (equal opportunity by household type, from the model's own probabilities, no labels).

    Each household's score is 1 − the share of its group's expected need (Σ p) held by the group's households
    ranked at or above it: taking the top k of this score takes, in every group, the households that bring the
    group's estimated recall to the same level.
    """
    p = np.asarray(p, dtype=float)
    score = np.zeros(len(p))
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        order = members[np.argsort(-p[members], kind="stable")]
        total = p[order].sum()
        # Clipped: the last cumulative share can exceed 1 by a rounding error.
        score[order] = np.clip(1.0 - np.cumsum(p[order]) / total, 0.0, 1.0) if total > 0 else 0.0
    return score


def compare_rankings(
    y: np.ndarray, scores: dict[str, np.ndarray], former_poor: np.ndarray, *, seed: int = 0
) -> pd.DataFrame:
    """Recall of each ranking at every capacity, and at 5 % within each household type (same visits), with the
    gap between the types, its chance level and its bootstrap interval (training.chance)."""
    rows = []
    for name, score in scores.items():
        row: dict[str, object] = {"ranking": name}
        for share in CAPACITIES:
            row[f"recall_at_{round(share * 100)}pct"] = recall_at(y, score, share)
        visited = top_k_mask(score, 0.05)
        for group, members in (("ordinary", ~former_poor), ("former_poor", former_poor)):
            in_need = (y == 1) & members
            row[f"recall_at_5pct_{group}"] = float(visited[in_need].mean()) if in_need.any() else float("nan")
        row["ordinary_to_former_poor"] = row["recall_at_5pct_ordinary"] / row["recall_at_5pct_former_poor"]  # type: ignore[operator]
        kind = np.where(former_poor, "former_poor", "ordinary")
        row["type_gap"] = tpr_gap(y, visited.astype(float), former_poor.astype(np.int64), 2, MIN_GROUP_POSITIVES)
        row["type_gap_chance"] = tpr_gap_by_chance(y, visited, kind, min_positives=MIN_GROUP_POSITIVES, seed=seed)
        row["type_gap_ci_low"], row["type_gap_ci_high"] = tpr_gap_interval(
            y, visited, kind, min_positives=MIN_GROUP_POSITIVES, seed=seed
        )
        rows.append(row)
    return pd.DataFrame(rows)


def evaluate_need(
    sources: Sources,
    truth: pd.DataFrame,
    snapshot_months: int = DEFAULT_SNAPSHOT_MONTHS,
    seed: int = 42,
    *,
    truth_ceiling: bool = False,
) -> NeedComparison:
    """Fit both models on `sources` and compare them with the rules against `truth` on the test date;
    `truth_ceiling` adds the diagnostic model trained on the truth (module docstring)."""
    from training.fit import TrainConfig

    dates = default_as_of_dates(sources, snapshot_months)
    # One profile build for both labels: every household not under monitoring, need label NaN when unobserved.
    everyone = build_snapshots(sources, dates, "need_12m", keep_unobserved=True)
    horizon = pd.DateOffset(months=12)
    identified = np.zeros(len(everyone), dtype=np.int8)
    for as_of, rows in everyone.groupby("as_of").groups.items():
        stamp = pd.Timestamp(as_of)  # type: ignore[arg-type]
        identified[everyone.index.get_indexer(rows)] = identified_in_window(
            sources, everyone.loc[rows, "household_id"], stamp, stamp + horizon
        )
    features = catalogue_features()
    split = latest_split(everyone["as_of"], 12)
    config = TrainConfig(seed=seed)
    need_rows = everyone[everyone["label"].notna()].copy()
    need_rows["label"] = need_rows["label"].astype(np.int8)
    need_model = fit_risk_model(need_rows, features, split, config).model
    ident_rows = everyone.drop(columns=["weight"]).assign(label=identified)
    ident_model = fit_risk_model(ident_rows, features, split, config).model

    test = everyone[split.test_mask(everyone).to_numpy()]
    y = need_truth(truth, test["household_id"], split.test, split.test + horizon)
    p_need = need_model.predict_proba(test)
    scores = {
        RANKINGS[0]: p_need,
        RANKINGS[1]: ident_model.predict_proba(test),
        RANKINGS[2]: rank_scores_as_unit_interval(rule_scores(test).to_numpy(dtype=float)),
    }
    former_poor = test["poverty_alleviated"].fillna(0).to_numpy(dtype=float) > 0
    scores[RANKINGS[3]] = equal_recall_score(p_need, former_poor)
    if truth_ceiling:
        truth_rows = everyone.drop(columns=["weight"]).assign(label=_truth_labels(truth, everyone, horizon))
        p_ceiling = fit_risk_model(truth_rows, features, split, config).model.predict_proba(test)
        scores[CEILING[0]] = p_ceiling
        scores[CEILING[1]] = equal_recall_score(p_ceiling, former_poor)
    table = compare_rankings(y, scores, former_poor, seed=seed)
    interval = bootstrap_ci(y, p_need, expected_calibration_error, seed=seed)
    return NeedComparison(table, expected_calibration_error(y, p_need), interval, len(test), int(y.sum()), split.test)


def _truth_labels(truth: pd.DataFrame, snapshots: pd.DataFrame, horizon: pd.DateOffset) -> np.ndarray:
    """need_truth for every snapshot row, each in its own window (the diagnostic ceiling only)."""
    labels = np.zeros(len(snapshots), dtype=np.int8)
    for as_of, rows in snapshots.groupby("as_of").groups.items():
        stamp = pd.Timestamp(as_of)  # type: ignore[arg-type]
        labels[snapshots.index.get_indexer(rows)] = need_truth(
            truth, snapshots.loc[rows, "household_id"], stamp, stamp + horizon
        )
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.need_evaluation", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a city written by `relapse simulate`")
    parser.add_argument("--snapshot-months", type=int, default=DEFAULT_SNAPSHOT_MONTHS)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--truth-ceiling", action="store_true", help="also fit the diagnostic model trained on the truth (never served)"
    )
    args = parser.parse_args(argv)
    truth_file = args.data / TRUTH_PATH
    if not truth_file.is_file():
        raise SystemExit(f"{truth_file} not found: the need truth is written by `relapse simulate`")
    sources, truth = read_sources(args.data), pd.read_parquet(truth_file)
    result = evaluate_need(sources, truth, args.snapshot_months, args.seed, truth_ceiling=args.truth_ceiling)
    out = [
        f"test date {result.test_date.date()}: {result.households:,} households not under monitoring, "
        f"{result.in_need:,} in need within 12 months (truth, found or not)",
        result.markdown(),
        f"need model ECE against the truth: {result.ece:.4f} (95 % interval {result.ece_interval[0]:.4f} – "
        f"{result.ece_interval[1]:.4f})",
    ]
    import sys

    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
