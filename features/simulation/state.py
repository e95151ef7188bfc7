"""What a simulated year carries over (State) and what it produces for the monitoring process (YearOutcome)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.simulation.population import Population

PLACES = ("in_county", "in_province", "out_province")

# Cause columns of YearOutcome.impact, in risk-type order (docs/domain.md §4).
CAUSES = ("01", "02", "03", "04", "05", "06", "07", "09")
ILLNESS, DISASTER, DISABILITY, LACK_LABOUR, ACCIDENT, INDUSTRY, EMPLOYMENT, EDUCATION = range(8)


@dataclass
class State:
    """What carries from one year to the next."""

    m_alive: np.ndarray
    m_serious: np.ndarray
    m_dropped_out: np.ndarray
    m_uniform: np.ndarray  # a member's fixed draw: persistence of migrant work and schooling choices
    m_wage_factor: np.ndarray
    m_local_months: np.ndarray  # a member's usual months of local work (when able)
    m_place: np.ndarray
    hh_dibao_monthly: np.ndarray  # 0 when not on dibao
    hh_dibao_start: np.ndarray
    hh_tekun: np.ndarray
    hh_welfare_post: np.ndarray  # member index holding a public-welfare post, -1 when none
    hh_housing: np.ndarray  # 0..3 = A..D
    hh_water_ok: np.ndarray
    hh_monitored: np.ndarray
    hh_prev_income_pc: np.ndarray
    hh_dissolved: np.ndarray
    disability_spell_start: np.ndarray  # per member, NaT when none


@dataclass
class YearOutcome:
    year: int
    income: dict[str, np.ndarray]  # income-table columns per household
    members_count: np.ndarray
    income_pc: np.ndarray  # per-capita net income
    oop: np.ndarray  # compliant out-of-pocket medical spending after assistance
    max_stay_oop: np.ndarray
    education_cost: np.ndarray
    labour_weight: np.ndarray
    impact: np.ndarray  # (households, len(CAUSES)) yuan lost or spent by cause
    shock_date: np.ndarray  # first shock date of the year per household (NaT when none)
    disaster_kind: np.ndarray  # dominant disaster kind per household ("" when none)
    status: dict[str, object] = field(default_factory=dict)  # member_status columns (alive members)
    housing_checks: dict[str, np.ndarray] = field(default_factory=dict)
    water_checks: dict[str, np.ndarray] = field(default_factory=dict)


def initial_state(pop: Population, rng: np.random.Generator, start: np.datetime64) -> State:
    n, m = pop.n_households, pop.n_members
    pa = pop.hh_poverty_alleviated
    housing = rng.choice(4, n, p=[0.55, 0.41, 0.03, 0.01])
    housing = np.where(pa & (rng.random(n) < 0.03), 2, housing)
    grade = pop.m_disability_grade
    start_days = rng.integers(200, 3000, m).astype("timedelta64[D]")
    return State(
        m_alive=np.ones(m, bool),
        m_serious=np.zeros(m, bool),
        m_dropped_out=np.zeros(m, bool),
        m_uniform=rng.random(m),
        m_wage_factor=rng.lognormal(0, 0.2, m),
        m_local_months=rng.normal(5, 2, m),
        m_place=rng.choice(len(PLACES), m, p=[0.2, 0.35, 0.45]),
        hh_dibao_monthly=np.zeros(n),
        hh_dibao_start=np.full(n, np.datetime64("NaT"), "datetime64[D]"),
        hh_tekun=np.zeros(n, bool),
        hh_welfare_post=np.full(n, -1),
        hh_housing=housing,
        hh_water_ok=rng.random(n) > 0.025,
        hh_monitored=np.zeros(n, bool),
        hh_prev_income_pc=np.full(n, np.nan),
        hh_dissolved=np.zeros(n, bool),
        disability_spell_start=np.where(
            (grade > 0) & (grade <= 2), np.maximum(start - start_days, pop.m_birth + 60), np.datetime64("NaT")
        ).astype("datetime64[D]"),
    )
