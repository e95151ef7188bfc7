"""Schooling: each member's stage this year from age and a fixed personal draw, dropouts, and what schooling
costs a household."""

from __future__ import annotations

import numpy as np

from features.simulation.context import YearContext
from features.simulation.state import EDUCATION

# Schooling stages by integer code (the order of features.contract.codes.SCHOOLING_STAGES).
STAGES = (
    "not_in_school",
    "preschool",
    "primary",
    "junior",
    "senior",
    "secondary_vocational",
    "higher_vocational",
    "undergraduate_plus",
)
NOT_IN_SCHOOL, PRESCHOOL, PRIMARY, JUNIOR, SENIOR, SECONDARY_VOCATIONAL, HIGHER_VOCATIONAL, UNDERGRADUATE = range(8)


def schooling(ctx: YearContext) -> np.ndarray:
    """Each member's schooling stage code this year; records dropouts as events."""
    state, age = ctx.state, ctx.age
    u = state.m_uniform
    upper = np.where(u < 0.55, SENIOR, np.where(u < 0.85, SECONDARY_VOCATIONAL, NOT_IN_SCHOOL))
    higher = np.where(u < 0.3, UNDERGRADUATE, np.where(u < 0.55, HIGHER_VOCATIONAL, NOT_IN_SCHOOL))
    stage = np.select(
        [age < 3, age < 6, age < 12, age < 15, age < 18, age < 22],
        [NOT_IN_SCHOOL, PRESCHOOL, PRIMARY, JUNIOR, upper, higher],
        NOT_IN_SCHOOL,
    )
    at_risk = state.m_alive & ~state.m_dropped_out & (age >= 12) & (age < 17) & (stage != NOT_IN_SCHOOL)
    drop = at_risk & (ctx.rng.random(len(age)) < np.where(ctx.protected_m, 0.006, 0.003))
    idx = np.flatnonzero(drop)
    ctx.events.add("school_dropout", "education", ctx.hh[idx], ctx.dates(len(idx), 240, 300), idx)
    state.m_dropped_out |= drop
    stage[state.m_dropped_out] = NOT_IN_SCHOOL
    return stage


def education_costs(ctx: YearContext, stage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each household's education spending and the education aid poverty-alleviated households get (paid in
    September, at the start of the school year); adds spending beyond what a household can bear to its impact."""
    pop, year = ctx.pop, ctx.year
    edu_cost_m = (
        np.select(
            [
                stage == SENIOR,
                stage == SECONDARY_VOCATIONAL,
                stage == HIGHER_VOCATIONAL,
                stage == UNDERGRADUATE,
                stage != NOT_IN_SCHOOL,
            ],
            [3_500, 2_500, 9_000, 13_000, 600],
            0,
        )
        * ctx.growth**0.5
    )
    education_cost = ctx.per_household(ctx.hh, np.where(ctx.alive, edu_cost_m, 0))
    edu_aid = np.where(pop.hh_poverty_alleviated & (education_cost > 2_000), np.minimum(education_cost * 0.4, 3_000), 0)
    ea = np.flatnonzero(edu_aid > 0)
    ctx.spells.add(
        "education_aid",
        ea,
        np.full(len(ea), np.datetime64(f"{year}-09-15")),
        np.full(len(ea), np.datetime64(f"{year}-09-15")),
        lump=edu_aid[ea],
    )
    ctx.impact[:, EDUCATION] += np.maximum(education_cost - edu_aid - 10_000, 0)
    return education_cost, edu_aid
