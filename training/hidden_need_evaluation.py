"""The hidden-need list against the rule flags: which finds more of the need no channel found, county by county?

The department early-warning channel hands each county's grid workers a list (docs/reports.md, "Hidden-need
list"): households not under monitoring, not raised by any official-rule flag, ranked by the need model's
probability. On a synthetic city, whose truth file knows every household in need and whether anyone found it,
this fits the need model exactly as `relapse train --label need` does (no MLflow), scores the held-out reference
date, and counts per county the *undiscovered need onsets* each list of 5 % of the county's households finds:

- an undiscovered need onset: a household not under monitoring on the test date, in need by the truth with a need
  date in the 12 months after it, and not identified in those 12 months (identifications table);
- the hidden-need list: the county's top 5 % by need probability among its households no rule flag raises (a
  county with fewer such households lists them all);
- the model's top 5 % without that exclusion, for comparison;
- the rules' list: the county's top 5 % by the rule score (weighted flags, ties by the lower income-to-line
  ratio), the official channel's own ranking;
- the model's top 5 % re-ranked for equal estimated recall of ordinary and former poor households within the
  county (`need_evaluation.equal_recall_score`), flagged households kept.

    python -m training.hidden_need_evaluation --data DIR      # DIR: a city written by `relapse simulate`

Figures and the command's output: docs/model-quality.md, "The hidden-need list by county".
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.profiles.rules import rule_flags, rule_scores
from features.reading.sources import Sources, read_sources
from training.fit import TrainConfig, fit_risk_model
from training.labels import build_snapshots, identified_in_window
from training.need_evaluation import TRUTH_PATH, equal_recall_score, need_truth
from training.pipeline import catalogue_features, default_as_of_dates
from training.settings import DEFAULT_SNAPSHOT_MONTHS
from training.split import latest_split

SHARE = 0.05
LISTS = ("hidden_need_list", "model_top", "rules", "equal_recall")


@dataclass
class HiddenNeedComparison:
    table: pd.DataFrame  # one row per county, and a last row "all" summing them
    test_date: pd.Timestamp
    share: float

    def markdown(self) -> str:
        lines = [
            "| county | households | list size | undiscovered onsets | hidden-need list | share found "
            "| model top, flagged included | rule flags | list ÷ rules | equal recall by type, flagged included |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in self.table.to_dict("records"):
            found, rules = int(row["hidden_need_list"]), int(row["rules"])
            lines.append(
                f"| {row['county']} | {int(row['households']):,} | {int(row['size']):,} | {int(row['undiscovered']):,} "
                f"| {found:,} | {_percent(float(row['hidden_need_list_share']))} | {int(row['model_top']):,} "
                f"| {rules:,} | {_ratio(found, rules)} | {int(row['equal_recall']):,} |"
            )
        return "\n".join(lines)


def _percent(value: float) -> str:
    return "—" if math.isnan(value) else f"{value * 100:.1f} %"


def _ratio(found: int, baseline: int) -> str:
    return "—" if baseline == 0 else f"{found / baseline:.2f} ×"


def list_size(households: int, share: float) -> int:
    """The number of households a list of `share` of a county holds: ceil(share · n), as `top_k_mask` counts."""
    return math.ceil(share * households)


def _top(score: np.ndarray, eligible: np.ndarray, size: int) -> np.ndarray:
    """The `size` highest scores among `eligible` (ties by position), as a mask over all rows."""
    candidates = np.flatnonzero(eligible)
    order = candidates[np.argsort(-score[candidates], kind="stable")]
    mask = np.zeros(len(score), dtype=bool)
    mask[order[:size]] = True
    return mask


def found_per_county(
    county: np.ndarray,
    undiscovered: np.ndarray,
    probability: np.ndarray,
    flagged: np.ndarray,
    rule_score: np.ndarray,
    share: float = SHARE,
    fair_score: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per county, the undiscovered onsets found by each list of `list_size(county households, share)` households.

    Every row is a household not under monitoring. `flagged`: any official-rule flag raised (such households are
    never on the hidden-need list). `fair_score`: the equal-recall re-ranking (the probability without one). The
    last row, county "all", sums the counties.
    """
    fair = np.asarray(probability if fair_score is None else fair_score, dtype=float)
    undiscovered = np.asarray(undiscovered, dtype=bool)
    probability = np.asarray(probability, dtype=float)
    rule_score = np.asarray(rule_score, dtype=float)
    flagged = np.asarray(flagged, dtype=bool)
    county = np.asarray(county, dtype=object)
    rows = []
    for code in sorted(set(county.tolist())):
        members = county == code
        size = list_size(int(members.sum()), share)
        masks = {
            "hidden_need_list": _top(probability, members & ~flagged, size),
            "model_top": _top(probability, members, size),
            "rules": _top(rule_score, members, size),
            "equal_recall": _top(fair, members, size),
        }
        rows.append(
            {"county": str(code), "households": int(members.sum()), "size": size}
            | {"undiscovered": int(undiscovered[members].sum())}
            | {name: int(undiscovered[mask].sum()) for name, mask in masks.items()}
        )
    table = pd.DataFrame(rows, columns=["county", "households", "size", "undiscovered", *LISTS])
    total = table[["households", "size", "undiscovered", *LISTS]].sum()
    table = pd.concat([table, pd.DataFrame([{"county": "all", **total.to_dict()}])], ignore_index=True)
    for name in LISTS:
        table[f"{name}_share"] = [
            found / total if total else float("nan")
            for found, total in zip(table[name], table["undiscovered"], strict=True)
        ]
    return table


def undiscovered_onsets(
    sources: Sources | Mapping[str, pd.DataFrame],
    truth: pd.DataFrame,
    household_ids: pd.Series,
    as_of: pd.Timestamp,
    horizon: pd.Timestamp,
) -> np.ndarray:
    """1 where the truth has the household in need in [as_of, horizon) and no identification is dated there."""
    in_need = need_truth(truth, household_ids, as_of, horizon).astype(bool)
    identified = identified_in_window(sources, household_ids, as_of, horizon).astype(bool)
    return in_need & ~identified


def evaluate_hidden_need(
    sources: Sources,
    truth: pd.DataFrame,
    snapshot_months: int = DEFAULT_SNAPSHOT_MONTHS,
    seed: int = 42,
    share: float = SHARE,
) -> HiddenNeedComparison:
    """Fit the need model on `sources` and count, per county of the test date, what each list finds (`truth`)."""
    dates = default_as_of_dates(sources, snapshot_months)
    snapshots = build_snapshots(sources, dates, "need_12m", keep_unobserved=True)
    split = latest_split(snapshots["as_of"], 12)
    train = snapshots[snapshots["label"].notna()].copy()
    train["label"] = train["label"].astype(np.int8)
    model = fit_risk_model(train, catalogue_features(), split, TrainConfig(seed=seed)).model
    test = snapshots[split.test_mask(snapshots).to_numpy()]
    horizon = split.test + pd.DateOffset(months=12)
    county = test["county_code"].astype(str).to_numpy()
    probability = model.predict_proba(test)
    # Equal estimated recall of the two household types inside each county: the re-ranking within (county, type).
    former_poor = test["poverty_alleviated"].fillna(0).to_numpy(dtype=float) > 0
    table = found_per_county(
        county,
        undiscovered_onsets(sources, truth, test["household_id"], split.test, horizon),
        probability,
        rule_flags(test).any(axis=1).to_numpy(),
        rule_scores(test).to_numpy(dtype=float),
        share,
        equal_recall_score(probability, np.char.add(county.astype(str), np.where(former_poor, "/fp", "/o"))),
    )
    return HiddenNeedComparison(table, split.test, share)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.hidden_need_evaluation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, required=True, help="a city written by `relapse simulate`")
    parser.add_argument("--snapshot-months", type=int, default=DEFAULT_SNAPSHOT_MONTHS)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--share", type=float, default=SHARE, help="list size as a share of each county")
    args = parser.parse_args(argv)
    truth_file = args.data / TRUTH_PATH
    if not truth_file.is_file():
        raise SystemExit(f"{truth_file} not found: the need truth is written by `relapse simulate`")
    if not 0 < args.share <= 1:
        raise SystemExit("--share must lie in (0, 1]")
    result = evaluate_hidden_need(
        read_sources(args.data), pd.read_parquet(truth_file), args.snapshot_months, args.seed, args.share
    )
    sys.stdout.write(
        f"test date {result.test_date.date()}, lists of {result.share * 100:g} % of each county's households "
        f"not under monitoring\n{result.markdown()}\n"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
