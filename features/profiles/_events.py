"""Features from dated department events: hospital stays, shocks, dropouts, insurance payouts.

Only events in [as_of − 12 months, as_of) are read (3- and 6-month figures are sub-windows). Amounts that a
department did not push add nothing to a sum.

Accidents are linked to hospital stays through the member: the out-of-pocket cost of stays of a member who had
an accident in the window is the accident's medical cost (the 应急 push and the 医保 push name the same
person; neither says which stay the accident caused, so every stay of that member in the window counts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import codes
from features.profiles._context import Columns, Context
from features.profiles._keys import code_index, days, floats

_TYPES = list(codes.EVENT_TYPES)
# An amount the profile builder needs for a ratio (features.profiles._shocks) but not a feature itself.
DISASTER_LOSS_6M = "disaster_loss_6m_yuan"


def event_features(ctx: Context, events: pd.DataFrame) -> Columns:
    when = days(events["event_date"])
    visible = np.flatnonzero((when < ctx.day) & (when >= ctx.months_back(12)))
    when = when[visible]
    hh = ctx.household_positions(events, visible)
    kind = code_index(events["event_type"], _TYPES, visible)

    def amount(name: str) -> np.ndarray:
        return floats(events[name])[visible]

    recent = when >= ctx.months_back(3)
    half_year = when >= ctx.months_back(6)

    def of(name: str) -> np.ndarray:
        return kind == _TYPES.index(name)

    stay = of("hospital_stay")
    oop = amount("oop_cost_yuan")
    loss = amount("loss_yuan")
    max_stay = np.zeros(ctx.n)
    at = stay & (hh >= 0) & ~np.isnan(oop)
    np.maximum.at(max_stay, hh[at], oop[at])
    accident = of("accident")
    accident_stay = np.zeros(len(visible), dtype=bool)
    if accident.any():
        injured = events["member_id"].iloc[visible[accident]].dropna().unique()
        stays = np.flatnonzero(stay)
        accident_stay[stays] = events["member_id"].iloc[visible[stays]].isin(injured).to_numpy(dtype=bool)
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
        "accidents_12m": ctx.count(hh, accident),
        "accident_loss_12m_yuan": ctx.total(hh, loss, accident),
        "accident_medical_oop_12m_yuan": ctx.total(hh, oop, accident_stay),
        "disasters_12m": ctx.count(hh, of("disaster")),
        "disaster_loss_12m_yuan": ctx.total(hh, loss, of("disaster")),
        DISASTER_LOSS_6M: ctx.total(hh, loss, of("disaster") & half_year),
        "business_failures_12m": ctx.count(hh, of("business_failure")),
        "business_failure_loss_12m_yuan": ctx.total(hh, loss, of("business_failure")),
        "job_losses_12m": ctx.count(hh, of("job_loss")),
        "dropouts_12m": ctx.count(hh, of("school_dropout")),
        "deaths_12m": ctx.count(hh, of("death")),
    }
