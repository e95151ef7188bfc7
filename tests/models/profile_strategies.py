"""Hypothesis strategies for household profiles: every numeric catalogue feature, missing values included.

Values are drawn by the feature's kind and unit (flags 0/1, small counts, yuan amounts, ratios); any feature may be
missing. The income block is kept consistent the way the profile builder makes it (ratios to the line follow
income and the line), because the what-if recomputes those ratios from income and the line; everything else is
independent, so conditions meet every combination of values, including those no real household has.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from features.contract.dibao_standards import DEFAULT_DIBAO_STANDARDS
from features.profiles.catalogue import FEATURES, Feature

NAN = float("nan")
# Features the income block derives; drawn from their inputs below.
DERIVED = {
    "income_to_line",
    "income_pc_after_medical_yuan",
    "income_after_medical_to_line",
    "oop_to_income_12m",
    "disaster_loss_to_income_12m",
}


def _value(item: Feature) -> st.SearchStrategy[float]:
    if item.kind == "flag":
        values: st.SearchStrategy[float] = st.sampled_from([0.0, 1.0])
    elif item.kind == "count":
        values = st.integers(0, 4).map(float)
    elif item.unit == "yuan":
        values = st.one_of(st.just(0.0), st.floats(0, 60_000, allow_nan=False))
    elif item.unit in ("share",):
        values = st.floats(0, 1, allow_nan=False)
    elif item.name.startswith("income_pc_change") or item.name.startswith("income_trend"):
        values = st.floats(-0.9, 2, allow_nan=False)
    elif item.unit and item.unit.startswith("ratio"):
        values = st.one_of(st.just(0.0), st.floats(0, 5, allow_nan=False))
    else:
        values = st.one_of(st.just(0.0), st.floats(0, 100, allow_nan=False))
    return st.one_of(values, st.just(NAN)) if item.missing or item.kind != "count" else values


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    """One household's profile as a mapping (feature name → value, plus the meta columns rules read)."""
    row: dict[str, Any] = {f.name: draw(_value(f)) for f in FEATURES if f.kind != "category" and f.name not in DERIVED}
    row["members_count"] = float(draw(st.integers(1, 6)))
    row["income_year"] = draw(st.sampled_from([*DEFAULT_DIBAO_STANDARDS, NAN]))
    row["province_code"] = draw(st.sampled_from(["99", "61", None]))
    line = draw(st.sampled_from([6_000.0, 7_000.0, 7_300.0]))
    income = draw(st.one_of(st.floats(-2_000, 40_000, allow_nan=False), st.just(NAN)))
    if draw(st.booleans()):  # many households sit near the 低保 standard: draw some there
        income = draw(st.floats(3_000, 10_000, allow_nan=False))
    members = row["members_count"]
    net = income * members
    oop = row["medical_oop_last_year_yuan"]
    after = income - (0.0 if math.isnan(oop) else oop) / members
    floor = max(net, 1_000.0) if not math.isnan(net) else NAN
    row |= {
        "income_pc_yuan": income,
        "monitoring_line_yuan": line if not math.isnan(income) else NAN,
        "income_to_line": income / line,
        "income_pc_after_medical_yuan": after,
        "income_after_medical_to_line": after / line,
        "oop_to_income_12m": row["hospital_oop_12m_yuan"] / floor,
        "disaster_loss_to_income_12m": row["disaster_loss_12m_yuan"] / floor,
    }
    return row
