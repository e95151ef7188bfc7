"""Shocks measured against the household's means: losses relative to its income and to the monitoring line.

A monitoring office does not ask "was there a hailstorm?" but "does the loss take this household's income
below the line?" (docs/domain.md §2, 突发严重困难户: a sharp income drop). An orchard household that loses
10,000 yuan to hail is fine; a household of four living at 1.3 × the line that loses the same is not. So the
disaster, accident and business losses are also given per member ÷ the household's *margin above the line*:
per-capita net income of the latest income year minus that year's monitoring line, floored at a tenth of the
line (a household already at or under the line has no margin; the floor keeps the ratio finite). A ratio of 1
means the loss, spread over the members, takes the household's income down to the line. The raw amounts come
from the event features (features.profiles._events), the income and the line from the income features
(features.profiles._income).
"""

from __future__ import annotations

import numpy as np

from features.profiles._context import Columns, ratio
from features.profiles._events import DISASTER_LOSS_6M
from features.profiles._income import income_ratio

# The margin above the line is floored at this share of the line (assumed): income at or under the line reads
# as a small margin, so that any loss there is large against it.
MARGIN_FLOOR_SHARE = 0.1


def shock_features(columns: Columns, income_meta: Columns) -> Columns:
    """Shock ratios; pops the helper columns it consumes from `columns` and `income_meta`."""
    net_income = income_meta.pop("net_income_yuan")
    migrant_wage_share = income_meta.pop("migrant_wage_share")
    line = income_meta["monitoring_line_yuan"]
    members = np.maximum(columns["members_count"], 1).astype(float)
    margin = np.maximum(columns["income_pc_yuan"] - line, MARGIN_FLOOR_SHARE * line)

    def per_member_to_margin(amount: np.ndarray) -> np.ndarray:
        return ratio(amount / members, margin)

    accident_cost = columns["accident_loss_12m_yuan"] + columns["accident_medical_oop_12m_yuan"]
    # Each job loss stands for one migrant worker's wages; more losses than workers cannot lose more than all.
    lost_share = np.minimum(ratio(columns["job_losses_12m"].astype(float), columns["migrant_workers_count"]), 1.0)
    lost_share = np.where(columns["job_losses_12m"] > 0, np.nan_to_num(lost_share, nan=1.0), 0.0)
    return {
        "oop_to_income_12m": income_ratio(columns["hospital_oop_12m_yuan"], net_income),
        "disaster_loss_to_income_12m": income_ratio(columns["disaster_loss_12m_yuan"], net_income),
        "disaster_loss_6m_to_margin": per_member_to_margin(columns.pop(DISASTER_LOSS_6M)),
        "accident_cost_to_margin_12m": per_member_to_margin(accident_cost),
        "business_loss_to_margin_12m": per_member_to_margin(columns["business_failure_loss_12m_yuan"]),
        "job_loss_income_share_12m": lost_share * migrant_wage_share,
    }
