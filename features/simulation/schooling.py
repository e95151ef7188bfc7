"""Schooling: each member's stage this year from age and a fixed personal draw, and dropouts."""

from __future__ import annotations

import numpy as np

from features.simulation.context import dates
from features.simulation.population import Population
from features.simulation.records import EventLog
from features.simulation.state import State

# Schooling stages by integer code (the order of features.codes.SCHOOLING_STAGES).
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


def schooling(
    age: np.ndarray,
    state: State,
    pop: Population,
    rng: np.random.Generator,
    year: int,
    events: EventLog,
    protected_m: np.ndarray,
) -> np.ndarray:
    """Each member's schooling stage code this year; records dropouts as events."""
    u = state.m_uniform
    upper = np.where(u < 0.55, SENIOR, np.where(u < 0.85, SECONDARY_VOCATIONAL, NOT_IN_SCHOOL))
    higher = np.where(u < 0.3, UNDERGRADUATE, np.where(u < 0.55, HIGHER_VOCATIONAL, NOT_IN_SCHOOL))
    stage = np.select(
        [age < 3, age < 6, age < 12, age < 15, age < 18, age < 22],
        [NOT_IN_SCHOOL, PRESCHOOL, PRIMARY, JUNIOR, upper, higher],
        NOT_IN_SCHOOL,
    )
    at_risk = state.m_alive & ~state.m_dropped_out & (age >= 12) & (age < 17) & (stage != NOT_IN_SCHOOL)
    drop = at_risk & (rng.random(len(age)) < np.where(protected_m, 0.006, 0.003))
    idx = np.flatnonzero(drop)
    events.add("school_dropout", "education", pop.m_household[idx], dates(rng, year, len(idx), 240, 300), idx)
    state.m_dropped_out |= drop
    stage[state.m_dropped_out] = NOT_IN_SCHOOL
    return stage
