"""Income features from the yearly income and expenditure records (docs/domain.md §3).

The latest income year recorded before `as_of` is "last year"; the two years before it give the 3-year
trend and volatility. Per-capita net income = (wages + business + property + transfers − production costs)
÷ members_count; a missing component adds nothing, and the income is missing only when every component is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract.monitoring_lines import YearProvinceTable
from features.profiles._context import INCOME_LOOKBACK_YEARS, Columns, Context, ratio
from features.profiles._keys import days, floats, latest_rows

WAGES = ("wage_migrant_yuan", "wage_local_yuan", "wage_public_welfare_yuan")
BUSINESS = ("business_crop_yuan", "business_orchard_yuan", "business_livestock_yuan", "business_other_yuan")
PROPERTY = ("property_dividend_yuan", "property_land_transfer_yuan")
TRANSFERS = (
    "transfer_dibao_yuan",
    "transfer_tekun_yuan",
    "transfer_pension_yuan",
    "transfer_eco_compensation_yuan",
    "transfer_insurance_payout_yuan",
    "transfer_other_yuan",
)
SAFETY_NET = ("transfer_dibao_yuan", "transfer_tekun_yuan")
# Ratios to household income use at least this denominator (assumed), so that a household with almost no
# recorded income gets a large, finite ratio instead of infinity.
INCOME_FLOOR_YUAN = 1_000.0


def income_features(
    ctx: Context, income: pd.DataFrame, provinces: np.ndarray, lines: YearProvinceTable
) -> tuple[Columns, Columns]:
    """(features, meta): meta holds income_year, monitoring_line_yuan, household net income and the share of
    migrant wages in gross income (the last two for features.profiles._shocks)."""
    recorded = days(income["recorded_date"])
    year = floats(income["income_year"])
    visible = np.flatnonzero((recorded < ctx.day) & (year >= ctx.as_of.year - INCOME_LOOKBACK_YEARS))
    hh = ctx.household_positions(income, visible)
    year = year[visible]
    latest = latest_rows(hh, year * 100_000 + recorded[visible], ctx.n)
    has = latest >= 0

    def column(name: str) -> np.ndarray:
        return floats(income[name])[visible]

    members = column("members_count")
    parts = {
        name: _nansum_or_nan([column(c) for c in cols])
        for name, cols in (
            ("wages", WAGES),
            ("business", BUSINESS),
            ("property", PROPERTY),
            ("transfers", TRANSFERS),
        )
    }
    cost = column("production_cost_yuan")
    gross = _nansum_or_nan(list(parts.values()))
    net = np.where(np.isnan(gross), np.nan, gross - np.nan_to_num(cost))
    pc_income = ratio(net, members)

    def last(values: np.ndarray) -> np.ndarray:
        out = np.full(ctx.n, np.nan)
        out[has] = values[latest[has]]
        return out

    last_year = last(year)
    line = lines.lookup(last_year, provinces)
    pc_last = last(pc_income)
    oop = last(column("medical_oop_compliant_yuan"))
    after_medical = pc_last - np.nan_to_num(oop) / last(members)
    history = _history(hh, year, pc_income, last_year, ctx.n)
    gross_last = last(gross)

    def share(part: np.ndarray) -> np.ndarray:
        # With the gross income known, an unrecorded component contributed nothing to it.
        return ratio(np.nan_to_num(last(part)), gross_last)

    out: Columns = {
        "income_pc_yuan": pc_last,
        "income_to_line": ratio(pc_last, line),
        "income_pc_after_medical_yuan": after_medical,
        "income_after_medical_to_line": ratio(after_medical, line),
        "income_pc_change_1y": ratio(pc_last, history[:, 1]) - 1,
        "income_record_age_years": (ctx.as_of.year - 1) - last_year,
        # How long ago the income was recorded: right after the yearly collection it describes the household
        # well; months later, shocks since then are not in it yet.
        "income_recorded_days_ago": ctx.day - last(recorded[visible]),
        "wage_share": share(parts["wages"]),
        "business_share": share(parts["business"]),
        "property_share": share(parts["property"]),
        "transfer_share": share(parts["transfers"]),
        "safety_net_share": share(_nansum_or_nan([column(c) for c in SAFETY_NET])),
        "production_cost_ratio": ratio(last(cost), last(parts["business"])),
        "medical_oop_last_year_yuan": oop,
        "education_expense_last_year_yuan": last(column("education_expense_yuan")),
    }
    out["income_trend_3y"], out["income_volatility_3y"] = _trend_and_volatility(history)
    meta: Columns = {
        "income_year": last_year,
        "monitoring_line_yuan": line,
        "net_income_yuan": last(net),
        "migrant_wage_share": share(column("wage_migrant_yuan")),
    }
    return out, meta


def per_capita_net_income(rows: pd.DataFrame) -> np.ndarray:
    """Per-capita net income of each income row (docs/domain.md §3), NaN when no component is recorded."""
    gross = _nansum_or_nan([floats(rows[c]) for c in (*WAGES, *BUSINESS, *PROPERTY, *TRANSFERS)])
    net = np.where(np.isnan(gross), np.nan, gross - np.nan_to_num(floats(rows["production_cost_yuan"])))
    return ratio(net, floats(rows["members_count"]))


def income_ratio(amount: np.ndarray, net_income: np.ndarray) -> np.ndarray:
    """amount ÷ household net income, the denominator floored at INCOME_FLOOR_YUAN; NaN without income."""
    return ratio(amount, np.where(np.isnan(net_income), np.nan, np.maximum(net_income, INCOME_FLOOR_YUAN)))


def _nansum_or_nan(parts: list[np.ndarray]) -> np.ndarray:
    total = np.zeros(len(parts[0]))
    seen = np.zeros(len(parts[0]), dtype=bool)
    for part in parts:
        known = ~np.isnan(part)
        np.add(total, part, out=total, where=known)
        seen |= known
    return np.where(seen, total, np.nan)


def _history(hh: np.ndarray, year: np.ndarray, pc_income: np.ndarray, last_year: np.ndarray, n: int) -> np.ndarray:
    """(households, 3): per-capita income of the last year and the two before it (NaN when absent)."""
    out = np.full((n, 3), np.nan)
    known = hh >= 0
    lag = np.full(len(hh), -1.0)
    lag[known] = last_year[hh[known]] - year[known]
    for k in range(3):
        at = known & (lag == k)
        out[hh[at], k] = pc_income[at]
    return out


def _trend_and_volatility(history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope per year ÷ mean, and standard deviation ÷ mean, over the known years."""
    x = -np.arange(3, dtype=float)  # years relative to the last one
    known = ~np.isnan(history)
    count = known.sum(axis=1)
    y = np.where(known, history, 0.0)
    xs = np.where(known, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_y = y.sum(axis=1) / count
        mean_x = xs.sum(axis=1) / count
        dx = np.where(known, x - mean_x[:, None], 0.0)
        dy = np.where(known, history - mean_y[:, None], 0.0)
        slope = (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1)
        std = np.sqrt((dy * dy).sum(axis=1) / count)
    usable = (count >= 2) & (mean_y > 0)
    return np.where(usable, slope / mean_y, np.nan), np.where(usable, std / mean_y, np.nan)
