"""Home-visit outcomes as extra training rows, weighted by the inverse of their selection probability.

The service exports one row per household and issued list (`relapse visits export-outcomes`, service.outcomes):
the visit date, the label (1: taken into monitoring, in need; 0: not eligible, no risk found), the list's data
date and the household's selection probability π on that list (docs/domain.md §18).

Each outcome becomes a row of the training period:

- features: the household's snapshot on reference date D, the latest snapshot date on or before the list's data
  date — built from records dated before D, like every snapshot. The visit itself is never a feature: it is dated
  on or after D and only sets the row's label;
- label: the visit's, read as the label of D's window (positive: in need on the visit date, inside the window;
  negative: found not at risk, taken for the window — `assumed`). The visit must fall inside [D, D + horizon);
- weight: 1 / max(π, `min_probability`) — the Horvitz–Thompson weight. A household listed with probability π
  stands for 1/π households of its list's pool, so the weighted rows of one list estimate the outcome over every
  listable household of its villages, not only over those the model put on top;
- `label_source` "visit" (the record rows: "records"): the split keeps visit rows out of the validation and test
  periods (training/split.py), so early stopping, calibration and every reported figure are judged on the
  records' label alone, the same with outcomes or without.

An outcome is left out (and counted) when its household has no snapshot on D — under monitoring on D, or unknown
to the source tables — when no snapshot date lies on or before the list's data date, or when the visit falls
outside D's window. Only labels whose population is the households not under monitoring take outcomes
(`identified_12m`, `need_12m`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from training.observation import WEIGHT_COLUMN

LABEL_SOURCE_COLUMN: Final = "label_source"
RECORDS: Final = "records"
VISIT: Final = "visit"
OUTCOME_LABELS: Final = ("identified_12m", "need_12m")
REQUIRED: Final = ("household_id", "visited_on", "label", "list_as_of", "selection_probability")
# Assumed: the design never gives a household less than one chance in a thousand, so the floor only matters for a
# hand-made table; the stored designs' weights are used as they are.
MIN_SELECTION_PROBABILITY: Final = 0.001


class OutcomesError(ValueError):
    """An outcomes table that cannot be used: the message names the column and, where one is at fault, the row."""


@dataclass(frozen=True)
class Added:
    snapshots: pd.DataFrame  # the record rows (label_source "records") and the outcome rows ("visit")
    added: int
    dropped: dict[str, int]  # reason → outcomes left out

    def note(self) -> str:
        left = "; ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items())) or "none"
        return f"visit outcomes: {self.added} added as weighted training rows; left out: {left}"


def read_outcomes(path: Path) -> pd.DataFrame:
    """The outcomes table of `relapse visits export-outcomes` (.parquet or .csv), checked column by column."""
    if not path.is_file():
        raise OutcomesError(f"{path}: no such file")
    frame = pd.read_csv(path, dtype={"household_id": str}) if path.suffix == ".csv" else pd.read_parquet(path)
    return check_outcomes(frame)


def check_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise OutcomesError(f"outcomes table lacks column(s): {', '.join(missing)}")
    out = frame.copy()
    out["household_id"] = out["household_id"].astype(str)
    for column in ("visited_on", "list_as_of"):
        out[column] = pd.to_datetime(out[column], errors="coerce")
    out["label"] = pd.to_numeric(out["label"], errors="coerce")
    out["selection_probability"] = pd.to_numeric(out["selection_probability"], errors="coerce")
    checks = {
        "visited_on": out["visited_on"].isna(),
        "list_as_of": out["list_as_of"].isna() | (out["list_as_of"] > out["visited_on"]),
        "label": ~out["label"].isin([0, 1]),
        "selection_probability": ~out["selection_probability"].between(0, 1, inclusive="right"),
    }
    for column, bad in checks.items():
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise OutcomesError(f"outcomes row {row}, column {column}: {_expected[column]}")
    out["label"] = out["label"].astype(np.int8)
    return out


_expected: Final = {
    "visited_on": "not a date",
    "list_as_of": "not a date, or after visited_on",
    "label": "must be 0 or 1",
    "selection_probability": "must lie in (0, 1]",
}


def outcome_weights(selection_probability: pd.Series | np.ndarray, min_probability: float) -> np.ndarray:
    """1 / max(π, min_probability): the inverse-propensity (Horvitz–Thompson) weight, clipped."""
    p = np.asarray(selection_probability, dtype=float)
    return 1.0 / np.maximum(p, min_probability)


def add_outcomes(
    snapshots: pd.DataFrame,
    outcomes: pd.DataFrame,
    horizon_months: int,
    *,
    min_probability: float = MIN_SELECTION_PROBABILITY,
) -> Added:
    """`snapshots` (record rows, one per household and `as_of`) with a weighted row per usable outcome appended
    (module docstring). Record rows keep their weight (1 where the label carries none)."""
    if not 0 < min_probability <= 1:
        raise OutcomesError("min_probability must lie in (0, 1]")
    records = snapshots.copy()
    records[LABEL_SOURCE_COLUMN] = RECORDS
    if WEIGHT_COLUMN not in records:
        records[WEIGHT_COLUMN] = 1.0
    dates = np.array(sorted(pd.to_datetime(records["as_of"]).unique()), dtype="datetime64[ns]")
    outcomes = check_outcomes(outcomes)
    dropped: Counter[str] = Counter()

    # D: the latest snapshot date on or before the list's data date.
    position = np.searchsorted(dates, outcomes["list_as_of"].to_numpy(dtype="datetime64[ns]"), side="right") - 1
    before = position < 0
    dropped["no snapshot date on or before the list's data date"] += int(before.sum())
    outcomes = outcomes[~before].assign(as_of=dates[position[~before]])
    inside = outcomes["visited_on"] < outcomes["as_of"] + pd.DateOffset(months=horizon_months)
    dropped["visit outside the snapshot's label window"] += int((~inside).sum())
    outcomes = outcomes[inside]

    keys = records[["household_id", "as_of"]].assign(_row=np.arange(len(records)))
    keys["as_of"] = pd.to_datetime(keys["as_of"])
    joined = outcomes.merge(keys, on=["household_id", "as_of"], how="left")
    missing = joined["_row"].isna()
    dropped["household has no snapshot on that date (monitored then, or unknown)"] += int(missing.sum())
    joined = joined[~missing]

    added = records.iloc[joined["_row"].astype(int).to_numpy()].copy()
    added["label"] = joined["label"].to_numpy(dtype=np.int8)
    added[WEIGHT_COLUMN] = outcome_weights(joined["selection_probability"], min_probability)
    added[LABEL_SOURCE_COLUMN] = VISIT
    combined = pd.concat([records, added], ignore_index=True)
    combined["label"] = combined["label"].astype(np.int8) if combined["label"].notna().all() else combined["label"]
    return Added(combined, len(added), {k: v for k, v in dropped.items() if v})


def visit_rows(snapshots: pd.DataFrame) -> pd.Series:
    """Whether each row is a visit outcome's (False for every row of snapshots without outcomes)."""
    if LABEL_SOURCE_COLUMN not in snapshots:
        return pd.Series(False, index=snapshots.index)
    return snapshots[LABEL_SOURCE_COLUMN] == VISIT
