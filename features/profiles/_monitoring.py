"""Registration and monitoring history: poverty registration, earlier identifications and eliminations.

Leakage (docs/domain.md §7): only identifications dated before `as_of` are read, and of those the features use
only the identification date, the elimination date and — when the elimination itself is dated before `as_of` —
the elimination way. Risk types and the monitoring category are outcome fields: never features. They are known
on `as_of` for identifications dated before it, so `monitoring_status_columns` reads them into the status meta
columns (`features.profiles.status`), which say who is already monitored and are never given to the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract.tables import TABLES
from features.profiles._context import Columns, Context
from features.profiles._keys import code_index, days, floats, latest_rows
from features.profiles.status import ELIMINATED, MONITORED, NOT_MONITORED

_RISK_TYPE_COLUMNS = tuple(c.name for c in TABLES["identifications"].columns if c.name.startswith("risk_type_"))


def monitoring_features(ctx: Context, households: pd.DataFrame, identifications: pd.DataFrame) -> Columns:
    out = _registration(ctx, households)
    identified = days(identifications["identified_date"])
    visible = np.flatnonzero(identified < ctx.day)
    identified = identified[visible]
    hh = ctx.household_positions(identifications, visible)
    eliminated_on = days(identifications["elimination_date"])[visible]
    # An elimination dated on or after as_of is not known on as_of: the household is still monitored.
    eliminated = eliminated_on < ctx.day
    way = np.where(eliminated, code_index(identifications["elimination_way"], ["assisted", "natural"], visible), -1)
    count = ctx.count(hh)
    last_identified = _latest(ctx, hh, identified, np.ones(len(hh), bool))
    last_eliminated = _latest(ctx, hh, eliminated_on, eliminated)
    out.update(
        {
            "previously_identified": (count > 0).astype(float),
            "identifications_count": count,
            "under_monitoring": (ctx.count(hh, ~eliminated) > 0).astype(float),
            "eliminated_assisted_count": ctx.count(hh, way == 0),
            "eliminated_natural_count": ctx.count(hh, way == 1),
            "days_since_identification": ctx.day - last_identified,
            "days_since_elimination": ctx.day - last_eliminated,
        }
    )
    return out


def monitoring_status_columns(ctx: Context, identifications: pd.DataFrame) -> dict[str, np.ndarray]:
    """The status meta columns (`features.profiles.status.STATUS_COLUMNS`) of every household as of `as_of`.

    Of the identifications dated before `as_of`, an open one (no elimination dated before `as_of`) makes the
    household monitored, and the latest open one gives the details; without an open one, the one whose risk was
    eliminated last gives them (status eliminated). Households without any are not monitored.
    """
    identified = days(identifications["identified_date"])
    visible = np.flatnonzero(identified < ctx.day)
    hh = ctx.household_positions(identifications, visible)
    identified = identified[visible]
    eliminated_on = days(identifications["elimination_date"])[visible]
    closed = eliminated_on < ctx.day  # an elimination dated on or after as_of is not known on as_of
    # Open spells rank above closed ones (day numbers stay far below the offset); within each, the latest.
    order = np.where(closed, eliminated_on, identified + 1e7)
    chosen = latest_rows(hh, order, ctx.n)
    has = chosen >= 0
    if not has.any():
        return _never_identified(ctx.n)
    pick = visible[np.maximum(chosen, 0)]  # the chosen row of the table (row 0 where none: masked below)
    is_closed = has & closed[np.maximum(chosen, 0)]
    status = np.where(has, np.where(is_closed, ELIMINATED, MONITORED), NOT_MONITORED).astype(object)

    def taken(name: str, where: np.ndarray) -> np.ndarray:
        values = identifications[name].to_numpy(dtype=object)[pick]
        return np.where(where & ~pd.isna(values), values, np.array(None, dtype=object))

    def dates(name: str, where: np.ndarray) -> np.ndarray:
        column = pd.to_datetime(identifications[name]).to_numpy(dtype="datetime64[ns]")
        return np.where(where, column[pick], np.datetime64("NaT")).astype("datetime64[ns]")

    # Risk types 1–5 joined with commas, column-wise over the households identified before (no loop per household).
    rows = np.flatnonzero(has)
    joined = pd.Series("", index=rows, dtype=object)
    for name in _RISK_TYPE_COLUMNS:
        column = taken(name, has)[rows]
        joined = joined + "," + pd.Series(np.where(pd.isna(column), "", column), index=rows, dtype=object)
    text = joined.str.replace(r",+", ",", regex=True).str.strip(",")
    risks = np.full(ctx.n, None, dtype=object)
    risks[rows] = text.where(text != "", None).to_numpy(dtype=object)
    return {
        "monitoring_status": status,
        "monitoring_type": taken("monitoring_type", has),
        "monitoring_risk_types": risks,
        "identified_date": dates("identified_date", has),
        "elimination_date": dates("elimination_date", is_closed),
        "elimination_way": taken("elimination_way", is_closed),
    }


def _never_identified(n: int) -> dict[str, np.ndarray]:
    none = np.full(n, None, dtype=object)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    return {
        "monitoring_status": np.full(n, NOT_MONITORED, dtype=object),
        "monitoring_type": none,
        "monitoring_risk_types": none.copy(),
        "identified_date": nat,
        "elimination_date": nat.copy(),
        "elimination_way": none.copy(),
    }


def _latest(ctx: Context, hh: np.ndarray, when: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.full(ctx.n, np.nan)
    at = mask & (hh >= 0) & ~np.isnan(when)
    np.fmax.at(out, hh[at], when[at])
    return out


def _registration(ctx: Context, households: pd.DataFrame) -> Columns:
    kind = code_index(households["household_type"], ["general", "poverty_alleviated"]).astype(float)
    kind[kind < 0] = np.nan
    exit_year = floats(households["exit_year"])
    # An exit year not yet reached on as_of is not a fact on as_of.
    years = np.where(exit_year < ctx.as_of.year, ctx.as_of.year - exit_year, np.nan)
    return {
        "poverty_alleviated": kind,
        "years_since_exit": np.where(kind == 1, years, np.nan),
        "relocated": floats(households["relocated"]),
        "land_area_mu": floats(households["land_area_mu"]),
        "orchard_area_mu": floats(households["orchard_area_mu"]),
    }
