"""Assistance features: what is active on `as_of` and what was received before.

A spell is active on `as_of` when start_date < as_of and (end_date is empty or end_date ≥ as_of)
(features.contract.tables ASSISTANCE). The end date of a spell that is still running on `as_of` may lie in the
future; it is only ever compared with `as_of`, never read as a value, so no later knowledge leaks in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import codes
from features.profiles._context import Columns, Context
from features.profiles._keys import code_index, days, floats

_MEASURES = list(codes.MEASURES)


def assistance_features(ctx: Context, assistance: pd.DataFrame) -> Columns:
    start = days(assistance["start_date"])
    visible = np.flatnonzero(start < ctx.day)
    start = start[visible]
    end = days(assistance["end_date"])[visible]
    hh = ctx.household_positions(assistance, visible)
    measure = code_index(assistance["measure"], _MEASURES, visible)
    active = np.isnan(end) | (end >= ctx.day)
    recent = start >= ctx.months_back(12)

    def of(name: str) -> np.ndarray:
        return measure == _MEASURES.index(name)

    def active_flag(name: str) -> np.ndarray:
        return (ctx.count(hh, active & of(name)) > 0).astype(float)

    # Distinct measures active per household: count (household, measure) pairs once.
    pair = np.where((hh >= 0) & (measure >= 0) & active, hh * len(_MEASURES) + measure, -1)
    distinct = np.unique(pair[pair >= 0]) // len(_MEASURES)
    return {
        "dibao_active": active_flag("dibao"),
        "tekun_active": active_flag("tekun"),
        "disability_subsidy_active": active_flag("disability_subsidy"),
        "public_welfare_post_active": active_flag("public_welfare_post"),
        "active_measures_count": np.bincount(distinct, minlength=ctx.n).astype(np.int64),
        "active_monthly_amount_yuan": ctx.total(hh, floats(assistance["monthly_amount_yuan"])[visible], active),
        "assistance_spells_12m": ctx.count(hh, recent),
        "medical_assistance_12m_yuan": ctx.total(
            hh, floats(assistance["lump_sum_yuan"])[visible], recent & of("medical_assistance")
        ),
        "temporary_assistance_12m": ctx.count(hh, recent & of("temporary_assistance")),
        "dibao_ever": (ctx.count(hh, of("dibao")) > 0).astype(float),
        "housing_renovation_ever": (ctx.count(hh, of("housing_renovation")) > 0).astype(float),
    }
