"""Labelled snapshots: profiles as of several reference dates, each with what happened next (docs/domain.md §7).

Default label "identified_12m": the household is newly identified as a monitoring object within 12 months
after `as_of` — rows of households already under monitoring on `as_of` are left out, since they cannot be
newly identified. "need_12m": the household is in need within 12 months after `as_of` as the window's records
show it (training/need_label.py), among households not under monitoring; unobserved households are left out and
the observed ones carry an inverse probability-of-observation weight (training/observation.py, column
`weight`). "income_below_line": the per-capita net income of the year in which the horizon ends is below that
year's monitoring line (households without that income record are left out).

Features come from `features.profiles.build.build_profiles`, which reads only records dated before `as_of`;
labels read only records dated on or after it. A horizon that runs past the end of the data would label
late identifications as negatives, so it is refused unless explicitly allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from features.contract.monitoring_lines import YearProvinceTable, default_monitoring_lines
from features.profiles.build import as_of_timestamp, build_profiles, per_capita_net_income, source_table
from features.reading.sources import Sources
from training.need_label import need_in_window
from training.observation import WEIGHT_COLUMN, observation_weights

Label = Literal["identified_12m", "need_12m", "income_below_line"]
LABELS: tuple[Label, ...] = ("identified_12m", "need_12m", "income_below_line")
# The label `relapse train` and `relapse demo` build when none is named.
DEFAULT_LABEL: Label = "identified_12m"
# Short names accepted on the command line.
LABEL_ALIASES: dict[str, Label] = {"identified": "identified_12m", "need": "need_12m", "income": "income_below_line"}
# What a model trained on each label ranks households by (the model card's "intended use").
LABEL_PURPOSES: dict[str, str] = {
    "identified_12m": "the probability of being newly identified as a monitoring object (防止返贫动态监测) "
    "within 12 months",
    "need_12m": "the probability of being in need within 12 months — income after medical costs below the "
    "monitoring line, a rigid-expenditure trigger or a failed guarantee — whether or not monitoring finds it",
    "income_below_line": "the probability that the income of the year ahead falls below the monitoring line",
}


def resolve_label(name: str) -> Label:
    """A label by its name or short name (`need` → `need_12m`)."""
    resolved = LABEL_ALIASES.get(name, name)
    if resolved not in LABELS:
        choices = ", ".join([*LABELS, *LABEL_ALIASES])
        raise ValueError(f"unknown label {name!r}; choose one of {choices}")
    return resolved


class LabelWindowError(ValueError):
    """The label horizon runs past the end of the data."""


def build_snapshots(
    sources: Sources | Mapping[str, pd.DataFrame],
    as_of_dates: Iterable[date | str | pd.Timestamp],
    label: Label = DEFAULT_LABEL,
    *,
    horizon_months: int = 12,
    lines: YearProvinceTable | None = None,
    data_end: date | str | pd.Timestamp | None = None,
    allow_incomplete: bool = False,
    keep_unobserved: bool = False,
) -> pd.DataFrame:
    """Profiles for every `as_of` with a `label` column (0/1), stacked; `as_of` is already a column.

    `data_end` (first day without data) defaults to the manifest's `extract_date` when there is one.
    `keep_unobserved` keeps the rows whose label is unobserved (label NaN, weight 0) — for evaluations that
    judge every household against another truth, never for training.
    """
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; choose one of {', '.join(LABELS)}")
    lines = lines or default_monitoring_lines()
    end = _data_end(sources, data_end)
    parts = []
    for raw in as_of_dates:
        as_of = as_of_timestamp(raw)
        horizon = as_of + pd.DateOffset(months=horizon_months)
        if end is not None and horizon > end and not allow_incomplete:
            raise LabelWindowError(
                f"as_of {as_of.date()} + {horizon_months} months runs past the end of the data ({end.date()})"
            )
        profiles = build_profiles(sources, as_of, lines=lines)
        if label == "identified_12m":
            labelled = profiles[profiles["under_monitoring"] != 1].copy()
            labelled["label"] = identified_in_window(sources, labelled["household_id"], as_of, horizon)
        elif label == "need_12m":
            labelled = profiles[profiles["under_monitoring"] != 1].copy()
            need = need_in_window(sources, labelled, as_of, horizon, lines)
            identified = identified_in_window(sources, labelled["household_id"], as_of, horizon).astype(bool)
            shown = (need["need_rigid_expenditure"] | need["need_guarantee"]).to_numpy(dtype=bool)
            income_observed = need["income_observed"].to_numpy(dtype=bool)
            # An identified household without an income record in the window has no observed outcome.
            certain = shown | (identified & income_observed)
            labelled[WEIGHT_COLUMN] = observation_weights(labelled, income_observed, certain)
            labelled["label"] = need["need"]
            if keep_unobserved:
                parts.append(labelled)
                continue
            labelled = labelled[labelled["label"].notna()]
        else:
            labelled = profiles.copy()
            labelled["label"] = _income_below_line(sources, profiles, (horizon - pd.Timedelta(days=1)).year, lines)
            labelled = labelled[labelled["label"].notna()]
        labelled["label"] = labelled["label"].astype(np.int8)
        parts.append(labelled)
    if not parts:
        raise ValueError("no as_of dates given")
    return pd.concat(parts, ignore_index=True)


def _data_end(sources: Sources | Mapping[str, pd.DataFrame], data_end: object) -> pd.Timestamp | None:
    if data_end is not None:
        return pd.Timestamp(data_end)  # type: ignore[arg-type]
    manifest = sources.manifest if isinstance(sources, Sources) else {}
    extract = manifest.get("extract_date")
    return pd.Timestamp(extract) if extract else None


def identified_in_window(
    sources: Sources | Mapping[str, pd.DataFrame], ids: pd.Series, as_of: pd.Timestamp, horizon: pd.Timestamp
) -> np.ndarray:
    """1 when the household has an identification dated in [as_of, horizon)."""
    found = source_table(sources, "identifications")
    when = pd.to_datetime(found["identified_date"])
    inside = found["household_id"][(when >= as_of) & (when < horizon)]
    return ids.isin(inside).to_numpy(dtype=np.int8)


def _income_below_line(
    sources: Sources | Mapping[str, pd.DataFrame], profiles: pd.DataFrame, year: int, lines: YearProvinceTable
) -> np.ndarray:
    """1 / 0 by the income of `year` against that year's line; NaN without a record for that year."""
    income = source_table(sources, "income")
    rows = income[pd.to_numeric(income["income_year"]) == year]
    per_capita = pd.Series(per_capita_net_income(rows), index=rows["household_id"].to_numpy())
    per_capita = per_capita[~per_capita.index.duplicated()].reindex(profiles["household_id"].to_numpy())
    provinces = profiles["province_code"].to_numpy(dtype=object)
    line = lines.lookup(np.full(len(profiles), float(year)), provinces)
    values = per_capita.to_numpy(dtype=float)
    return np.where(np.isnan(values), np.nan, (values < line).astype(float))
