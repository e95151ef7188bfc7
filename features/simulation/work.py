"""Work of a year: who can work, migrant and local months and wages, what shocks cost in earnings, and
public-welfare posts. docs/simulation.md, step 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulation.context import YearContext
from features.simulation.health import Health, Medical, Stays
from features.simulation.schooling import NOT_IN_SCHOOL
from features.simulation.state import ACCIDENT, DISABILITY, EMPLOYMENT, ILLNESS

# Yearly probability that a migrant worker loses work for months (2020 and 2022: pandemic years) — assumed.
_JOB_LOSS = {2019: 0.04, 2020: 0.16, 2021: 0.06, 2022: 0.11, 2023: 0.06, 2024: 0.05, 2025: 0.05}


@dataclass
class Work:
    """Per member unless noted."""

    migrant: np.ndarray
    ill_months: np.ndarray  # months taken by serious illness and accidents
    lost_job_months: np.ndarray
    would_work: np.ndarray  # months worked had nothing happened
    would_wage: np.ndarray  # monthly wage of the work the member does
    migrant_wage: np.ndarray
    months: np.ndarray  # months actually worked
    earning: np.ndarray  # per household: earning factor for the same work
    wage_migrant: np.ndarray  # per household
    wage_local: np.ndarray  # per household
    labour_weight: np.ndarray  # per household: sum of the members' labour class at year end
    members_alive: np.ndarray  # per household, at year end


@dataclass
class WelfarePosts:
    wage: np.ndarray  # per household
    member_months: np.ndarray  # per member


def labour_class(ctx: YearContext, health: Health, stage: np.ndarray) -> np.ndarray:
    """Each member's labour class this year: 1 able, 0.4 weak, 0 none/lost."""
    pop, age, alive = ctx.pop, ctx.age, ctx.alive
    lost = health.serious | ((pop.m_disability_grade >= 1) & (pop.m_disability_grade <= 2)) | (age >= 75)
    weak = ~lost & ((pop.m_disability_grade >= 3) | (pop.m_chronic & (age > 55)) | (age >= 65))
    able = alive & ~lost & ~weak & (age >= 16) & (stage == NOT_IN_SCHOOL)
    return np.where(able, 1.0, np.where(alive & weak & (age >= 16), 0.4, 0.0))


def work_months(ctx: YearContext, health: Health, weight: np.ndarray) -> Work:
    """Migrant and local months and wages; records job losses. Serious illness and accidents take working
    months from the sick; job loss from migrants; death the rest of the year."""
    pop, state, rng, m, hh, growth = ctx.pop, ctx.state, ctx.rng, ctx.m, ctx.hh, ctx.growth
    serious, accident, dies = health.serious, health.accident, health.dies
    able = weight == 1.0  # labour class 1
    migrant = able & (ctx.age >= 18) & (ctx.age < 56) & (state.m_uniform < pop.m_migrant_propensity)
    ill_months = np.where(serious, rng.integers(4, 13, m), 0) + np.where(accident, rng.integers(1, 7, m), 0)
    lost_job_months = _job_loss(ctx, migrant)
    base_months = np.clip(np.round(rng.normal(10, 1.2, m)), 6, 12)
    # Poverty-alleviated households earn less for the same work (weaker networks, remoter villages).
    earning = np.where(pop.hh_poverty_alleviated, 0.72, 1.05)
    mig_wage = np.where(pop.m_skilled, 5_200, 3_700) * growth * state.m_wage_factor * earning[hh]
    loc_wage = 2_500 * growth * state.m_wage_factor * earning[hh]
    would_work = np.where(
        migrant,
        base_months,
        np.where(weight > 0, np.clip(state.m_local_months + rng.normal(0, 0.7, m), 0, 10) * weight, 0),
    )
    would_wage = np.where(migrant, mig_wage, loc_wage)
    months = np.clip(would_work - lost_job_months - ill_months, 0, 12)
    days_lived = (health.death_date - np.datetime64(f"{ctx.year}-01-01")).astype(float)
    months = np.where(dies, months * days_lived / 365, months)
    alive_at_end = ctx.alive & ~dies
    return Work(
        migrant=migrant,
        ill_months=ill_months,
        lost_job_months=lost_job_months,
        would_work=would_work,
        would_wage=would_wage,
        migrant_wage=mig_wage,
        months=months,
        earning=earning,
        wage_migrant=ctx.per_household(hh, np.where(migrant, months * mig_wage, 0)),
        wage_local=ctx.per_household(hh, np.where(~migrant, months * loc_wage, 0)),
        labour_weight=ctx.per_household(hh, np.where(alive_at_end, weight, 0)),
        members_alive=ctx.per_household(hh, alive_at_end.astype(float)),
    )


def _job_loss(ctx: YearContext, migrant: np.ndarray) -> np.ndarray:
    """Months of work migrants lose with their job this year; records the job losses."""
    rng, hh = ctx.rng, ctx.hh
    job_loss = migrant & (rng.random(ctx.m) < _JOB_LOSS.get(ctx.year, 0.05))
    lost_job_months = np.where(job_loss, rng.integers(3, 10, ctx.m), 0)
    jl = np.flatnonzero(job_loss)
    jl_date = ctx.dates(len(jl))
    ctx.events.add("job_loss", "human_resources", hh[jl], jl_date, jl)
    ctx.note_shock(hh[jl], jl_date)
    return lost_job_months


def lost_earnings(ctx: YearContext, health: Health, work: Work, stays: Stays, medical: Medical) -> np.ndarray:
    """Adds what illness, accidents, job loss and disability cost each household to its impact; returns each
    member's earnings lost to serious illness and accidents."""
    pop, hh = ctx.pop, ctx.hh
    serious, accident, oop_accident = health.serious, health.accident, stays.oop_accident
    serious_loss = np.minimum(work.ill_months, work.would_work) * work.would_wage
    ctx.impact[:, ILLNESS] += ctx.per_household(hh, np.where(serious, serious_loss, 0)) + medical.oop - oop_accident
    ctx.impact[:, ACCIDENT] += ctx.per_household(hh, np.where(accident & ~serious, serious_loss, 0)) + oop_accident
    ctx.impact[:, EMPLOYMENT] += ctx.per_household(
        hh, np.minimum(work.lost_job_months, work.would_work) * work.migrant_wage
    )
    # A new severe disability or a death of an earner takes the rest of the year's work.
    disability_loss = np.where(
        health.new_disability & (pop.m_disability_grade <= 2), work.would_work * work.would_wage, 0
    )
    # Disability costs care and forgone work every year, not only in the year it begins.
    disability_cost = np.where(
        ctx.alive & (pop.m_disability_grade >= 1),
        np.where(pop.m_disability_grade <= 2, 6_000, 1_500) * ctx.growth**0.5,
        0,
    )
    ctx.impact[:, DISABILITY] += ctx.per_household(hh, disability_loss + disability_cost)
    return serious_loss


def welfare_posts(ctx: YearContext, health: Health, weight: np.ndarray, labour_weight: np.ndarray) -> WelfarePosts:
    """Public-welfare posts: kept by most holders, granted to protected households with weak labour."""
    state, rng, n, hh, age, growth, year = ctx.state, ctx.rng, ctx.n, ctx.hh, ctx.age, ctx.growth, ctx.year
    dies = health.dies
    holder = state.hh_welfare_post
    keep = (holder >= 0) & (rng.random(n) < 0.85)
    keep &= np.where(holder >= 0, state.m_alive[np.maximum(holder, 0)] & ~dies[np.maximum(holder, 0)], False)
    candidates = (
        (holder < 0) & ctx.protected & (labour_weight < 1.5) & (rng.random(n) < np.where(state.hh_monitored, 0.5, 0.1))
    )
    first_member = np.full(n, -1)
    eligible = ctx.alive & ~dies & (weight > 0) & (age >= 30) & (age < 70)
    np.maximum.at(first_member, hh[eligible], np.flatnonzero(eligible))
    state.hh_welfare_post = np.where(keep, holder, np.where(candidates, first_member, -1))
    post = np.flatnonzero(state.hh_welfare_post >= 0)
    post_months = rng.integers(8, 13, len(post))
    post_wage = np.zeros(n)
    post_wage[post] = post_months * 600 * growth**0.5
    ctx.spells.add(
        "public_welfare_post",
        post,
        np.full(len(post), np.datetime64(f"{year}-01-15")),
        np.full(len(post), np.datetime64(f"{year}-12-31")),
        state.hh_welfare_post[post],
        monthly=np.full(len(post), 600 * growth**0.5),
    )
    member_post_months = np.zeros(ctx.m, int)
    member_post_months[state.hh_welfare_post[post]] = post_months
    return WelfarePosts(wage=post_wage, member_months=member_post_months)
