"""Registration and monitoring history: poverty registration, earlier identifications and eliminations.

Leakage (docs/domain.md §7): only identifications dated before `as_of` are read, and of those only the
identification date, the elimination date and — when the elimination itself is dated before `as_of` —
the elimination way. Risk types and the monitoring category are never read: they are outcome fields.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.profiles._context import Columns, Context
from features.profiles._keys import code_index, days, floats


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
