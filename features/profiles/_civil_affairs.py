"""Civil-affairs features: the categories civil affairs recognises the household in on `as_of` (docs/domain.md §16).

A category is held on `as_of` when start_date < as_of and (end_date is empty or end_date ≥ as_of), as an assistance
spell is active (features.contract.tables CIVIL_AFFAIRS). A source without the civil_affairs table has not observed
the categories: the flags are then missing, never 0 — a household absent from a table the deployment does not
deliver is not known to be off the safety net.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import codes
from features.profiles._context import Columns, Context
from features.profiles._keys import code_index, days

_CATEGORIES = list(codes.CIVIL_AFFAIRS_CATEGORIES)
# Catalogue flag of each category held on as_of.
HELD_FLAGS = {
    "dibao": "civil_dibao",
    "tekun": "civil_tekun",
    "dibao_edge": "dibao_edge_active",
    "rigid_expenditure": "rigid_expenditure_active",
}


def civil_affairs_flags(ctx: Context, civil_affairs: pd.DataFrame, observed: bool) -> Columns:
    """Per category (keyed as HELD_FLAGS), 1.0 when held on as_of, 0.0 when not, NaN when not observed."""
    if not observed:
        return {flag: np.full(ctx.n, np.nan) for flag in HELD_FLAGS.values()}
    start = days(civil_affairs["start_date"])
    visible = np.flatnonzero(start < ctx.day)
    end = days(civil_affairs["end_date"])[visible]
    hh = ctx.household_positions(civil_affairs, visible)
    category = code_index(civil_affairs["category"], _CATEGORIES, visible)
    held = np.isnan(end) | (end >= ctx.day)
    return {
        flag: (ctx.count(hh, held & (category == _CATEGORIES.index(name))) > 0).astype(float)
        for name, flag in HELD_FLAGS.items()
    }


def held_either(spell_flag: np.ndarray, civil_flag: np.ndarray) -> np.ndarray:
    """Held per the assistance spells or per civil affairs: either record is evidence (a missing one is not)."""
    return np.fmax(spell_flag, np.nan_to_num(civil_flag))
