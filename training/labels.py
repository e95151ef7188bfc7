"""Labelled snapshots: profiles as of several reference dates, each with what happened next (docs/domain.md §7).

Default label "need_12m": the household is in need within 12 months after `as_of` as the window's records
show it (training/need_label.py), among households not under monitoring; unobserved households are left out and
the observed ones carry an inverse probability-of-observation weight (training/observation.py, column
`weight`). "identified_12m": the household is newly identified as a monitoring object within 12 months after
`as_of` — who the monitoring process finds, the second output beside need; rows of households already under
monitoring on `as_of` are left out, since they cannot be newly identified. "income_below_line": the per-capita
net income of the year in which the horizon ends is below that year's monitoring line (households without that
income record are left out).

For households already in monitoring, and after (docs/domain.md §17): "eliminated_6m", among current monitoring
objects on `as_of`, the risk of the open identification is eliminated within 6 months; "returned_12m", among
households whose risk was eliminated before `as_of`, the household is identified again within 12 months. Both are
read from the identifications table alone: who is monitored or eliminated from the records dated before `as_of`
(the profile's status), what happened from the elimination and identification dates on or after it.

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
from features.profiles.status import ELIMINATED, MONITORED
from features.reading.sources import Sources
from training.need_label import need_in_window
from training.observation import WEIGHT_COLUMN, observation_weights

Label = Literal["identified_12m", "need_12m", "income_below_line", "eliminated_6m", "returned_12m"]
LABELS: tuple[Label, ...] = ("identified_12m", "need_12m", "income_below_line", "eliminated_6m", "returned_12m")
# How far each label looks ahead of `as_of`, in months, where it is not 12.
LABEL_HORIZONS: dict[str, int] = {"eliminated_6m": 6}
# need_12m's rows also carry the identification label (identified_12m) of the same window, every row kept with
# `keep_unobserved`: what the need model's identification companion is trained on (models.risk_model).
IDENTIFIED_COLUMN = "identified_12m"
# The label `relapse train` and `relapse demo` build when none is named.
DEFAULT_LABEL: Label = "need_12m"
# Short names accepted on the command line.
LABEL_ALIASES: dict[str, Label] = {
    "identified": "identified_12m",
    "need": "need_12m",
    "income": "income_below_line",
    "eliminated": "eliminated_6m",
    "returned": "returned_12m",
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
    horizon_months: int | None = None,
    lines: YearProvinceTable | None = None,
    data_end: date | str | pd.Timestamp | None = None,
    allow_incomplete: bool = False,
    keep_unobserved: bool = False,
) -> pd.DataFrame:
    """Profiles for every `as_of` with a `label` column (0/1), stacked; `as_of` is already a column.

    `horizon_months` defaults to the label's own (`LABEL_HORIZONS`, else 12). `data_end` (first day without data)
    defaults to the manifest's `extract_date` when there is one.
    `keep_unobserved` keeps the rows whose label is unobserved (label NaN, weight 0) — for evaluations that
    judge every household against another truth, never for training.
    """
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; choose one of {', '.join(LABELS)}")
    lines = lines or default_monitoring_lines()
    horizon_months = horizon_months or LABEL_HORIZONS.get(label, 12)
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
            labelled[IDENTIFIED_COLUMN] = identified.astype(np.int8)
            if keep_unobserved:
                parts.append(labelled)
                continue
            labelled = labelled[labelled["label"].notna()]
        elif label == "eliminated_6m":
            labelled = profiles[profiles["monitoring_status"] == MONITORED].copy()
            labelled["label"] = eliminated_in_window(sources, labelled["household_id"], as_of, horizon)
        elif label == "returned_12m":
            labelled = profiles[profiles["monitoring_status"] == ELIMINATED].copy()
            labelled["label"] = identified_in_window(sources, labelled["household_id"], as_of, horizon)
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


def eliminated_in_window(
    sources: Sources | Mapping[str, pd.DataFrame], ids: pd.Series, as_of: pd.Timestamp, horizon: pd.Timestamp
) -> np.ndarray:
    """1 when an identification dated before `as_of` has its risk eliminated in [as_of, horizon).

    An elimination dated before `as_of` is already known and makes the household no monitoring object; one dated
    in the window is the outcome. Only the elimination date is read of the window."""
    found = source_table(sources, "identifications")
    identified = pd.to_datetime(found["identified_date"])
    eliminated = pd.to_datetime(found["elimination_date"])
    inside = found["household_id"][(identified < as_of) & (eliminated >= as_of) & (eliminated < horizon)]
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
