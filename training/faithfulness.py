"""Faithfulness of reasons (docs/model-quality.md): does the explanation name the cause the generator knows?

For a synthetic city the generator writes the ground-truth cause of every identification
(`<sources>/_truth/identification_causes.parquet`: the dominant cause's risk type and whether it is a *single
dominant* one, ≥ 70 % of what the causes cost the household). We take the identifications in the model's test
period (12 months from its test reference date) whose cause is single-dominant, build each household's profile
at a reference date before the identification, explain it with the model and check whether the cause's risk
type (02xx counted as the 02 family) is among the top reasons (risk-raising reasons: evidence-backed risk types
first, then backgrounds) and among the top risk types (the household's evidence-backed risk types, whatever their
points; `models.reasons`).

Reference dates
    `identification` (default): the identification date itself; the profile sees every record dated before it,
    i.e. what a grid worker's visit that day would be based on. This checks the explanation, given the facts.
    `year_start`: 1 January of the identification year, the date the model's scores are made for; a shock later
    in the year cannot be in that profile, so this mixes faithfulness with foresight.

Excluded: identifications the generator marks as spurious (no case behind them) and cause 99 (no risk type).

    python -m training.faithfulness --data DIR [--version V | --train] [--reference identification|year_start]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from features.profiles.build import build_profiles, select_households
from features.reading.sources import Sources
from models.explain import explain_households
from models.reasons import Explainer, default_explainer, reason_names
from models.risk_model import RiskModel

Reference = Literal["identification", "year_start"]
TRUTH_PATH = Path("_truth") / "identification_causes.parquet"
TARGET = 0.85  # share of cases whose cause is among the top risk types (docs/model-quality.md)
TARGET_PER_CAUSE = 0.70  # the same share for each cause on its own
CAUSE_ORDER = ("01", "02", "03", "04", "05", "06", "07", "09")


@dataclass(frozen=True)
class FaithfulnessResult:
    table: pd.DataFrame  # one row per cause, then "all"
    cases: pd.DataFrame  # one row per identification checked
    reference: Reference
    top: int
    period: tuple[str, str]

    @property
    def overall(self) -> float:
        """Share of cases whose cause is among the top reasons of any kind (income, history … included)."""
        return float(self.table.loc[self.table["cause"] == "all", "share"].iloc[0])

    @property
    def overall_risk_types(self) -> float:
        """Share of cases whose cause is among the top official risk types: the target's reading, where reasons
        are contributions aggregated by risk type (docs/model-quality.md)."""
        return float(self.table.loc[self.table["cause"] == "all", "share_risk_types"].iloc[0])

    def to_markdown(self) -> str:
        k = self.top
        head = (
            f"| cause | risk type | cases | in top-{k} reasons | share | in top-{k} risk types | share | "
            "cause raises risk | median rank |"
        )
        lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for row in self.table.itertuples():
            lines.append(
                f"| {row.cause} | {row.zh} {row.en} | {row.cases} | {row.hits} | {row.share:.1%} | "
                f"{row.hits_risk_types} | {row.share_risk_types:.1%} | {row.cause_raises:.1%} | {row.median_rank:.0f} |"
            )
        return "\n".join(lines)


def cause_key(code: str) -> str | None:
    """The reason key of a ground-truth risk-type code: 02xx → "02"; None for 99 and unknown codes."""
    key = "02" if code.startswith("02") else code
    return key if key in CAUSE_ORDER else None


def read_truth(folder: Path) -> pd.DataFrame:
    path = Path(folder) / TRUTH_PATH
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: faithfulness needs a generated city's ground truth")
    return pd.read_parquet(path)


def faithfulness_cases(sources: Sources, truth: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Single-dominant, non-spurious identifications dated in [start, end), with their cause's reason key."""
    ids = sources["identifications"][["identification_id", "identified_date"]].copy()
    ids["identification_id"] = ids["identification_id"].astype(str)
    truth = truth.assign(identification_id=truth["identification_id"].astype(str))
    cases = truth.merge(ids, on="identification_id", how="inner")
    cases["identified_date"] = pd.to_datetime(cases["identified_date"])
    cases["cause"] = cases["dominant_cause"].astype(str).map(cause_key)
    keep = (
        cases["single_dominant"].astype(bool)
        & (cases.get("trigger", pd.Series("", index=cases.index)).astype(str) != "spurious")
        & cases["cause"].notna()
        & (cases["identified_date"] >= start)
        & (cases["identified_date"] < end)
    )
    columns = ["identification_id", "household_id", "identified_date", "dominant_cause", "cause"]
    cases = cases.loc[keep, columns].copy()
    cases["household_id"] = cases["household_id"].astype(str)
    return cases.sort_values(["identified_date", "household_id"], kind="stable").reset_index(drop=True)


def measure_faithfulness(
    model: RiskModel,
    sources: Sources,
    truth: pd.DataFrame,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp | None = None,
    top: int = 3,
    reference: Reference = "identification",
    explainer: Explainer | None = None,
) -> FaithfulnessResult:
    """The per-cause share of cases whose cause is among the top reasons (module docstring)."""
    end = end if end is not None else start + pd.DateOffset(months=12)
    cases = faithfulness_cases(sources, truth, start, end)
    explainer = explainer or default_explainer(model.booster)
    cases["as_of"] = (
        cases["identified_date"]
        if reference == "identification"
        else pd.to_datetime(cases["identified_date"].dt.year.astype(str) + "-01-01")
    )
    own = select_households(sources, cases["household_id"].unique())
    ranks = np.zeros(len(cases), dtype=int)
    raises = np.zeros(len(cases), dtype=bool)
    tops: list[str] = [""] * len(cases)
    coded: list[str] = [""] * len(cases)
    for _, group in cases.groupby("as_of", sort=True):
        profiles = build_profiles(own, pd.Timestamp(group["as_of"].iloc[0])).set_index("household_id", drop=False)
        rows = profiles.loc[group["household_id"]].reset_index(drop=True)
        explained = explain_households(model, rows, top=top, lang="en", explainer=explainer)
        for position, item in zip(group.index, explained, strict=True):
            cause = str(cases.at[position, "cause"])
            keys = [r.key for r in item.reasons]
            tops[position] = ",".join(keys)
            coded[position] = ",".join(r.key for r in item.risk_types)
            order = [r.key for r in item.all_reasons]
            ranks[position] = order.index(cause) + 1 if cause in order else len(order) + 1
            raises[position] = any(r.key == cause and r.points > 0 for r in item.all_reasons)
    cases["top_reasons"] = tops
    cases["cause_rank"] = ranks
    cases["cause_raises"] = raises
    cases["top_risk_types"] = coded
    cases["hit"] = [c in t.split(",") for c, t in zip(cases["cause"], cases["top_reasons"], strict=True)]
    cases["hit_risk_types"] = [c in t.split(",") for c, t in zip(cases["cause"], coded, strict=True)]
    return FaithfulnessResult(
        _table(cases), cases, reference, top, (str(pd.Timestamp(start).date()), str(pd.Timestamp(end).date()))
    )


def period_start(model: RiskModel, sources: Sources) -> pd.Timestamp:
    """The model's test reference date (from its metadata), else 12 months before the end of the data."""
    split = model.meta.get("split") or {}
    if split.get("test"):
        return pd.Timestamp(split["test"])
    end = sources.manifest.get("extract_date")
    last = pd.Timestamp(end) if end else pd.to_datetime(sources["identifications"]["identified_date"]).max()
    return pd.Timestamp(last) - pd.DateOffset(months=12)


def _table(cases: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for cause in [*CAUSE_ORDER, "all"]:
        part = cases if cause == "all" else cases[cases["cause"] == cause]
        if cause != "all" and part.empty:
            continue
        zh, en = ("合计", "all causes") if cause == "all" else reason_names(cause)
        rows.append(
            {
                "cause": cause,
                "zh": zh,
                "en": en,
                "cases": len(part),
                "hits": int(part["hit"].sum()),
                "share": float(part["hit"].mean()) if len(part) else float("nan"),
                "hits_risk_types": int(part["hit_risk_types"].sum()),
                "share_risk_types": float(part["hit_risk_types"].mean()) if len(part) else float("nan"),
                "cause_raises": float(part["cause_raises"].mean()) if len(part) else float("nan"),
                "median_rank": float(part["cause_rank"].median()) if len(part) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


# --- command line ---------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.faithfulness", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="source folder of a generated city (default: the demo city)")
    parser.add_argument("--version", help="registered model version (default: the champion)")
    parser.add_argument("--train", action="store_true", help="fit a model on --data instead of using the registry")
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--reference", choices=["identification", "year_start"], default="identification")
    parser.add_argument(
        "--snapshot-months", type=int, default=None, help="with --train: months between snapshots (default: training's)"
    )
    args = parser.parse_args(argv)
    folder, sources = load_city(args.data)
    model = trained_model(sources, args.snapshot_months) if args.train else registered_model(args.version)
    result = measure_faithfulness(
        model, sources, read_truth(folder), start=period_start(model, sources), top=args.top, reference=args.reference
    )
    sys.stdout.write(report(result, folder))
    return 0


def report(result: FaithfulnessResult, folder: Path) -> str:
    verdict = "meets" if result.overall_risk_types >= TARGET else "misses"
    causes = result.table[result.table["cause"] != "all"]
    short = causes.loc[causes["share_risk_types"] < TARGET_PER_CAUSE, "cause"].tolist()
    per_cause = (
        f"every cause meets {TARGET_PER_CAUSE:.0%}"
        if not short
        else "below " + (f"{TARGET_PER_CAUSE:.0%}: {', '.join(short)}")
    )
    return (
        f"Faithfulness of reasons — {folder}; identifications {result.period[0]} … {result.period[1]} (exclusive); "
        f"reference date: {result.reference}; top-{result.top}\n\n{result.to_markdown()}\n\n"
        f"among the top-{result.top} risk types: {result.overall_risk_types:.1%} {verdict} the {TARGET:.0%} target; "
        f"among the top-{result.top} reasons (backgrounds included): "
        f"{result.overall:.1%}; per cause among the top-{result.top} risk types: {per_cause}\n"
    )


def load_city(data: Path | None) -> tuple[Path, Sources]:
    from features.pseudonyms.ingestion import load_sources
    from features.pseudonyms.keys import ensure_local_key
    from features.settings import get_settings

    settings = get_settings()
    folder = data or settings.data_dir / "demo" / "sources"
    key, _ = ensure_local_key(settings)
    return folder, load_sources(folder, key)


def registered_model(version: str | None) -> RiskModel:
    from mlflow import MlflowClient

    from training.pipeline import load_registered
    from training.registry import CHAMPION, alias_version
    from training.settings import get_settings
    from training.tracking import configure

    settings = get_settings()
    configure(settings)
    client = MlflowClient()
    version = version or alias_version(client, settings.registered_model, CHAMPION)
    if version is None:
        raise SystemExit("no champion in the registry: run `relapse demo`, pass --version or use --train")
    return load_registered(client, settings, version)


def trained_model(sources: Sources, snapshot_months: int | None = None) -> RiskModel:
    from training.fit import fit_risk_model
    from training.pipeline import data_from_sources
    from training.settings import DEFAULT_SNAPSHOT_MONTHS
    from training.split import latest_split

    data = data_from_sources(sources, snapshot_months=snapshot_months or DEFAULT_SNAPSHOT_MONTHS)
    split = latest_split(data.snapshots["as_of"], data.horizon_months)
    meta = {"split": split.describe(), "synthetic": data.synthetic}
    return fit_risk_model(data.snapshots, data.features, split, meta=meta).model


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
