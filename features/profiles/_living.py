"""Living conditions and place: the latest housing and water checks, the village and the county.

Villages are slow-moving reference data read as static (features.contract.tables VILLAGES). The county figure
is computed from the villages table alone, never from other households, so that one household's profile
does not depend on which other households are being profiled (no training/serving skew).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import codes
from features.profiles._context import Columns, Context, ratio
from features.profiles._keys import SMALL, KeyIndex, code_index, days, floats, latest_rows

_GRADES = list(codes.HOUSING_GRADES)  # A..D → level 1..4
_WATER = ("quantity_ok", "quality_ok", "convenience_ok", "reliability_ok")
_POOR_VILLAGES = ("former_poor", "key_assisted")


def _latest_check(ctx: Context, checks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The latest check before as_of per household: its row positions and the households they belong to."""
    when = days(checks["check_date"])
    visible = np.flatnonzero(when < ctx.day)
    hh = ctx.household_positions(checks, visible)
    pick = latest_rows(hh, when[visible], ctx.n)
    has = np.flatnonzero(pick >= 0)
    return visible[pick[has]], has


def housing_features(ctx: Context, housing: pd.DataFrame, water: pd.DataFrame, members: np.ndarray) -> Columns:
    rows, at = _latest_check(ctx, housing)
    level = np.full(ctx.n, np.nan)
    grade = code_index(housing["housing_grade"], _GRADES, rows).astype(float) + 1
    level[at] = np.where(grade > 0, grade, np.nan)
    area = np.full(ctx.n, np.nan)
    area[at] = floats(housing["housing_area_m2"])[rows]
    rows, at = _latest_check(ctx, water)
    problems = np.zeros(ctx.n, dtype=np.int64)
    checked = np.zeros(ctx.n, bool)
    checked[at] = True
    for column in _WATER:
        problems[at] += (floats(water[column])[rows] == 0).astype(np.int64)  # a missing answer is not a failure
    return {
        "housing_grade_level": level,
        "housing_unsafe": np.where(np.isnan(level), np.nan, (level >= 3).astype(float)),  # docs/domain.md §5 C/D
        "housing_area_pc_m2": ratio(area, members.astype(float)),
        "water_problems_count": problems,
        "water_unsafe": np.where(checked, (problems > 0).astype(float), np.nan),
    }


def place_features(
    ctx: Context, households: pd.DataFrame, villages: pd.DataFrame
) -> tuple[Columns, dict[str, pd.Series]]:
    """(features, meta): village context, and the region, county and province codes of each household."""
    region = households["region_code"].reset_index(drop=True)
    county = region.str.slice(0, 6)
    if len(households) <= SMALL and len(villages) > SMALL:
        # One household (the API path): its county's villages are all the county figure needs.
        villages = villages[villages["county_code"].isin(set(county.dropna()))]
    village = KeyIndex(villages["region_code"]).positions(households["region_code"])
    has = village >= 0
    at = village[has]

    def pick(values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        out = np.full(ctx.n, fill, dtype=values.dtype if fill == -1 else float)
        out[has] = values[at]
        return out

    county_share = _county_poor_share(villages)
    out: Columns = {
        "village_type": pick(code_index(villages["village_type"], list(codes.VILLAGE_TYPES)), -1),
        "main_industry": pick(code_index(villages["main_industry"], list(codes.INDUSTRIES)), -1),
        "relocation_settlement": pick(floats(villages["relocation_settlement"])),
        "collective_income_yuan": pick(floats(villages["collective_income_yuan"])),
        "distance_to_county_km": pick(floats(villages["distance_to_county_km"])),
        "county_former_poor_village_share": pick(county_share),
    }
    # Region codes are 12-digit village codes: the county is the first 6 digits, the province the first 2.
    meta = {
        "region_code": region,
        "county_code": county,
        "province_code": region.str.slice(0, 2),
    }
    return out, meta


def _county_poor_share(villages: pd.DataFrame) -> np.ndarray:
    """Per village row: the share of its county's villages that were poor or key-assisted."""
    if not len(villages):
        return np.zeros(0)
    _, county = np.unique(villages["county_code"].to_numpy(dtype=object, na_value=""), return_inverse=True)
    poor = np.isin(code_index(villages["village_type"], list(_POOR_VILLAGES)), (0, 1)).astype(float)
    share = np.bincount(county, weights=poor) / np.bincount(county)
    return share[county]
