"""The monitoring loop on a synthetic city: lists issued by the service → visits that reveal the truth → outcomes as
labels → does next year's recall change?

On a city written by `relapse simulate` (its `_truth/need.parquet` knows every household in need):

1. Fit the identification model (label identified_12m) exactly as `relapse train` does, without MLflow.
2. Replay the service over the last `--lists` training dates L: store every household's score as of L (the model's
   probability; households under monitoring on L as monitoring objects) in a real service database, then issue
   each county's visit list through `service.issued_lists` (`--per-village` slots, `--share` of them drawn at
   random), and record a visit of every listed household through `service.visits`, a uniformly drawn 1–60 days
   after L. The visit reveals the truth: `enrolled` when the household is in need on the visit date — a need
   of that year dated on or before the visit, or continuing from the year before (`assumed`) — else
   `not_at_risk`. Visits that settled a household keep it off the later lists, as in the service.
3. Export the outcomes (`service.outcomes`), add them to the snapshots (`training.outcomes`: weights 1 / π) and fit
   again on the same split.
4. Score the held-out test date with both models and report recall at 1 / 5 / 10 % of the households not under
   monitoring, of all need in the 12 months after it (truth), and of the identifications (the records' label).

    python scripts/loop_outcomes.py --data DIR      # DIR: a city written by `relapse simulate`

Figures: docs/model-quality.md, "Visit outcomes as labels".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features.reading.sources import Sources, read_sources
from models.risk_model import RiskModel
from service.db import Database, open_database
from service.issued_lists import issue_list
from service.keys import Caller
from service.migrate import upgrade_database
from service.outcomes import export_outcomes
from service.scope import Scope
from service.settings import ServiceSettings
from service.store import ScoreInput, record_scores
from service.tables import RiskLevel
from service.visits import VisitIn, latest_visits, record_visit
from training.fit import TrainConfig, fit_risk_model
from training.labels import build_snapshots
from training.metrics import CAPACITIES, bootstrap_ci, recall_at
from training.need_evaluation import TRUTH_PATH, need_truth
from training.outcomes import add_outcomes
from training.pipeline import catalogue_features, default_as_of_dates
from training.split import latest_split

MODEL_VERSION = "loop-baseline"


def in_need_on(truth: pd.DataFrame, households: pd.Series, day: pd.Series) -> np.ndarray:
    """Whether each household is in need on its visit day (module docstring, step 2)."""
    rows = truth.assign(need_date=pd.to_datetime(truth["need_date"]))
    visits = pd.DataFrame({"household_id": households.to_numpy(), "day": day.to_numpy(), "at": np.arange(len(day))})
    joined = visits.merge(rows, on="household_id", how="inner")
    found = (joined["need_year"] == joined["day"].dt.year) & (
        (joined["need_date"] <= joined["day"]) | joined["continuing"].astype(bool)
    )
    hit = np.zeros(len(visits), dtype=bool)
    hit[joined.loc[found.to_numpy(), "at"].to_numpy(dtype=int)] = True
    return hit


def _store_scores(database: Database, households: pd.DataFrame, rows: pd.DataFrame, p: np.ndarray, as_of: date) -> None:
    listable = dict(zip(rows["household_id"].astype(str), p, strict=True))
    inputs = []
    for household, region in households[["household_id", "region_code"]].itertuples(index=False):
        probability = listable.get(str(household))
        status = None if probability is not None else {"monitoring_status": "monitored"}
        level = RiskLevel.HIGH if (probability or 0) >= 0.1 else RiskLevel.LOW
        inputs.append(
            ScoreInput(
                household_pseudonym=str(household),
                region_code=str(region),
                as_of=as_of,
                model_version=MODEL_VERSION,
                probability=float(probability or 0.0),
                level=level,
                input_hash=f"sha256:{household}:{as_of}",
                synthetic=True,
                status=status,
            )
        )
    with database.session() as session:
        record_scores(session, Scope.everything(), Caller.local_operator(), inputs)


def replay_lists(
    sources: Sources,
    snapshots: pd.DataFrame,
    model: RiskModel,
    truth: pd.DataFrame,
    dates: list[pd.Timestamp],
    per_village: int,
    share: float,
    seed: int,
) -> tuple[pd.DataFrame, dict[str, int], int]:
    """Issue lists and record visits on `dates` in a fresh service database; the exported outcomes."""
    rng = np.random.default_rng(seed)
    households = sources["households"]
    counties = sorted({str(r)[:6] for r in households["region_code"]})
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'service.db'}"
        upgrade_database(url)
        database = open_database(url, ServiceSettings(data_dir=Path(tmp), database_url=url))
        visits = 0
        try:
            for as_of in dates:
                rows = snapshots[snapshots["as_of"] == as_of]
                _store_scores(database, households, rows, model.predict_proba(rows), pd.Timestamp(as_of).date())
                for county in counties:
                    with database.session() as session:
                        scope = Scope(county)
                        head, listed = issue_list(
                            session, scope, per_village, {}, share=share, seed=seed,
                            visits=latest_visits(session, scope), key_id=None,
                        )  # fmt: skip
                        names = pd.Series([r.household_pseudonym for r in listed])
                        days = pd.Series(pd.Timestamp(as_of) + pd.to_timedelta(rng.integers(1, 61, len(listed)), "D"))
                        need = in_need_on(truth, names, days)
                        for row, day, found in zip(listed, days, need, strict=True):
                            fields = {
                                "visited_on": day.date(),
                                "visitor_role": "grid_worker",
                                "list_version": head.list_version,
                                "list_rank": row.rank,
                                "outcome": "enrolled" if found else "not_at_risk",
                            }
                            if found:
                                fields |= {"monitoring_type": "marginal", "risk_types": ["99"]}
                            record_visit(
                                session, scope, row.household_pseudonym, VisitIn.model_validate(fields),
                                key_id=None, source="import",
                            )  # fmt: skip
                        visits += len(listed)
            with database.read_session() as session:
                outcomes = export_outcomes(session, Scope.everything())
        finally:
            database.dispose()
    return outcomes.rows, outcomes.dropped, visits


def _paired(share: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """Recall at `share` of the first column's ranking minus the second's (a paired difference over households)."""
    return lambda y, both: recall_at(y, both[:, 0], share) - recall_at(y, both[:, 1], share)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/loop_outcomes.py", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a city written by `relapse simulate`")
    parser.add_argument("--lists", type=int, default=4, help="lists issued, on the last training dates")
    parser.add_argument("--per-village", type=int, default=20)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    sources = read_sources(args.data)
    truth = pd.read_parquet(args.data / TRUTH_PATH)
    snapshots = build_snapshots(sources, default_as_of_dates(sources), "identified_12m")
    split = latest_split(snapshots["as_of"], 12)
    features, config = catalogue_features(), TrainConfig(seed=args.seed)
    baseline = fit_risk_model(snapshots, features, split, config).model
    dates = list(split.train[-args.lists :])
    outcomes, dropped, visits = replay_lists(
        sources, snapshots, baseline, truth, dates, args.per_village, args.share, args.seed
    )
    added = add_outcomes(snapshots, outcomes, 12)
    with_outcomes = fit_risk_model(added.snapshots, features, split, config).model

    test = snapshots[split.test_mask(snapshots).to_numpy()]
    horizon = split.test + pd.DateOffset(months=12)
    need = need_truth(truth, test["household_id"], split.test, horizon)
    identified = test["label"].to_numpy(int)
    lines = [
        f"lists on {', '.join(str(pd.Timestamp(d).date()) for d in dates)}: {visits:,} visits, "
        f"{len(outcomes):,} outcomes ({int(outcomes['label'].sum()):,} in need), {added.added:,} added as rows; "
        f"left out: {dropped or 'none'}",
        f"test date {split.test.date()}: {len(test):,} households not under monitoring, {int(need.sum()):,} in need "
        f"within 12 months (truth), {int(identified.sum()):,} identified",
        "",
        "| model | need: recall at 1 % | at 5 % | at 10 % | identified: recall at 1 % | at 5 % | at 10 % |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    both = np.column_stack([with_outcomes.predict_proba(test), baseline.predict_proba(test)])
    for name, p in (("without outcomes", both[:, 1]), ("with outcomes (1/π)", both[:, 0])):
        cells = [recall_at(need, p, s) for s in CAPACITIES] + [recall_at(identified, p, s) for s in CAPACITIES]
        lines.append(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    lines.append("")
    for label, y in (("need", need), ("identified", identified)):
        for share in (0.05, 0.10):
            diff = _paired(share)
            low, high = bootstrap_ci(y, both, diff, seed=args.seed)
            lines.append(
                f"{label}, recall at {share:.0%}: with − without {diff(y, both):+.3f} (95 % paired bootstrap interval "
                f"{low:+.3f} – {high:+.3f})"
            )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
