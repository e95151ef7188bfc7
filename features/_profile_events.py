"""Features from dated department events: hospital stays, shocks, dropouts, insurance payouts.

Only events in [as_of − 12 months, as_of) are read (3-month figures are a sub-window). Amounts that a
department did not push add nothing to a sum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import codes
from features._profile_context import Columns, Context
from features._profile_keys import code_index, days, floats

_TYPES = list(codes.EVENT_TYPES)


def event_features(ctx: Context, events: pd.DataFrame) -> Columns:
    when = days(events["event_date"])
    visible = np.flatnonzero((when < ctx.day) & (when >= ctx.months_back(12)))
    when = when[visible]
    hh = ctx.household_positions(events, visible)
    kind = code_index(events["event_type"], _TYPES, visible)

    def amount(name: str) -> np.ndarray:
        return floats(events[name])[visible]

    recent = when >= ctx.months_back(3)

    def of(name: str) -> np.ndarray:
        return kind == _TYPES.index(name)

    stay = of("hospital_stay")
    oop = amount("oop_cost_yuan")
    loss = amount("loss_yuan")
    max_stay = np.zeros(ctx.n)
    at = stay & (hh >= 0) & ~np.isnan(oop)
    np.maximum.at(max_stay, hh[at], oop[at])
    return {
        "hospital_stays_3m": ctx.count(hh, stay & recent),
        "hospital_stays_12m": ctx.count(hh, stay),
        "hospital_days_12m": ctx.total(hh, amount("hospital_days"), stay),
        "hospital_oop_3m_yuan": ctx.total(hh, oop, stay & recent),
        "hospital_oop_12m_yuan": ctx.total(hh, oop, stay),
        "hospital_total_cost_12m_yuan": ctx.total(hh, amount("total_cost_yuan"), stay),
        "max_stay_oop_12m_yuan": max_stay,
        "insurance_payout_12m_yuan": ctx.total(hh, amount("amount_yuan"), of("insurance_payout")),
        "disability_certificates_12m": ctx.count(hh, of("disability_certificate")),
        "accidents_12m": ctx.count(hh, of("accident")),
        "accident_loss_12m_yuan": ctx.total(hh, loss, of("accident")),
        "disasters_12m": ctx.count(hh, of("disaster")),
        "disaster_loss_12m_yuan": ctx.total(hh, loss, of("disaster")),
        "business_failures_12m": ctx.count(hh, of("business_failure")),
        "business_failure_loss_12m_yuan": ctx.total(hh, loss, of("business_failure")),
        "job_losses_12m": ctx.count(hh, of("job_loss")),
        "dropouts_12m": ctx.count(hh, of("school_dropout")),
        "deaths_12m": ctx.count(hh, of("death")),
    }
