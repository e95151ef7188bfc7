"""One simulated year: ageing, health, shocks, work, income and assistance for every household at once.

The causal chain (docs/simulation.md): latent traits and last year's state → this year's shocks (illness,
disability, accidents, deaths, job loss, business failure, county-wide hail/frost/drought, floods) → labour
months and business receipts → income components → assistance that dampens the shock (medical assistance,
insurance payouts, temporary assistance, dibao next year). The monitoring process (monitoring.py) then
looks at the outcome. Every amount is in yuan of the year.

Each step lives in the module of its job: health.py (health events, hospital stays, medical assistance),
schooling.py, work.py (labour, wages, public-welfare posts), business.py (receipts, disasters, failures),
transfers.py, status.py (member_status) and assistance.py (what is decided for next year).
"""

from __future__ import annotations

import numpy as np

from features.simulation.assistance import assistance_for_next_year
from features.simulation.business import business_failure, business_income, disasters, plan_business
from features.simulation.config import CityConfig
from features.simulation.context import YearContext
from features.simulation.geography import Geography
from features.simulation.health import (
    Medical,
    date_disabilities_and_accidents,
    health_events,
    hospital_stays,
    medical_assistance,
)
from features.simulation.population import Population
from features.simulation.records import EventLog, SpellLog
from features.simulation.schooling import education_costs, schooling
from features.simulation.state import LACK_LABOUR, State, YearOutcome
from features.simulation.status import member_status
from features.simulation.transfers import Transfers, industry_grants, temporary_assistance, transfers
from features.simulation.work import WelfarePosts, Work, labour_class, lost_earnings, welfare_posts, work_months


def simulate_year(
    year: int,
    pop: Population,
    state: State,
    config: CityConfig,
    geo: Geography,
    rng: np.random.Generator,
    events: EventLog,
    spells: SpellLog,
) -> YearOutcome:
    """Runs the year's steps in causal order. The order is part of the seed's contract: every step draws from
    `rng`, so moving a step changes the city."""
    ctx = YearContext.start(year, pop, state, config, geo, rng, events, spells)
    health = health_events(ctx)
    stage = schooling(ctx)
    weight = labour_class(ctx, health, stage)
    stays = hospital_stays(ctx, health)
    medical = medical_assistance(ctx, stays)
    work = work_months(ctx, health, weight)
    serious_loss = lost_earnings(ctx, health, work, stays, medical)
    date_disabilities_and_accidents(ctx, health, weight)
    posts = welfare_posts(ctx, health, weight, work.labour_weight)
    business = plan_business(ctx, work.labour_weight, work.earning)
    disaster = disasters(ctx, business)
    fail_loss = business_failure(ctx, business)
    receipts = business_income(ctx, business)
    paid = transfers(ctx, business.has_labour)
    education_cost, edu_aid = education_costs(ctx, stage)
    temp_amount = temporary_assistance(ctx, disaster.loss + fail_loss + ctx.per_household(ctx.hh, serious_loss))
    industry_grant = industry_grants(ctx, business)

    income = _income_columns(
        work,
        posts,
        receipts,
        paid,
        medical,
        education_cost,
        paid.family_support + temp_amount + edu_aid + industry_grant,
    )
    costs = ("production", "medical", "education")
    gross = sum((v for k, v in income.items() if not k.startswith(costs)), np.zeros(ctx.n))
    members_count = np.maximum(work.members_alive, 1)
    income_pc = (gross - receipts["production_cost"]) / members_count
    _lack_of_labour(ctx, work.labour_weight, members_count, gross)

    state.m_alive = ctx.alive & ~health.dies
    state.m_serious = health.serious & ~health.dies
    outcome = YearOutcome(
        year=year,
        income=income,
        members_count=members_count,
        income_pc=income_pc,
        oop=medical.oop,
        max_stay_oop=stays.max_stay_oop,
        education_cost=education_cost,
        labour_weight=work.labour_weight,
        impact=ctx.impact,
        shock_date=ctx.shock_date,
        disaster_kind=disaster.kind,
    )
    outcome.status = member_status(ctx, stage, health.serious, weight, work.migrant, work.months, posts.member_months)
    assistance_for_next_year(ctx, outcome)
    return outcome


def _income_columns(
    work: Work,
    posts: WelfarePosts,
    receipts: dict[str, np.ndarray],
    paid: Transfers,
    medical: Medical,
    education_cost: np.ndarray,
    other_transfers: np.ndarray,
) -> dict[str, np.ndarray]:
    """The income-table columns per household (docs/domain.md §3)."""
    return {
        "wage_migrant_yuan": work.wage_migrant,
        "wage_local_yuan": work.wage_local,
        "wage_public_welfare_yuan": posts.wage,
        "business_crop_yuan": receipts["crop"],
        "business_orchard_yuan": receipts["orchard"],
        "business_livestock_yuan": receipts["livestock"],
        "business_other_yuan": receipts["other"],
        "property_dividend_yuan": paid.dividend,
        "property_land_transfer_yuan": paid.land_transfer,
        "transfer_dibao_yuan": paid.dibao,
        "transfer_tekun_yuan": paid.tekun,
        "transfer_pension_yuan": paid.pension,
        "transfer_eco_compensation_yuan": paid.eco_compensation,
        "transfer_insurance_payout_yuan": medical.insurance_payout,
        "transfer_other_yuan": other_transfers,
        "production_cost_yuan": receipts["production_cost"],
        "medical_oop_compliant_yuan": medical.oop,
        "education_expense_yuan": education_cost,
    }


def _lack_of_labour(ctx: YearContext, labour_weight: np.ndarray, members_count: np.ndarray, gross: np.ndarray) -> None:
    """Lack of labour: no one can work, and the household's own income falls short of the line."""
    line = ctx.config.monitoring_lines[ctx.year]
    no_labour = labour_weight < 0.5
    ctx.impact[:, LACK_LABOUR] += np.where(no_labour, np.maximum(line * members_count - gross, 0) + 1_000, 0)
