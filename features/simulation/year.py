"""One simulated year: ageing, health, shocks, work, income and assistance for every household at once.

The causal chain (docs/simulation.md): latent traits and last year's state → this year's shocks (illness,
disability, accidents, deaths, job loss, business failure, county-wide hail/frost/drought, floods) → labour
months and business receipts → income components → assistance that dampens the shock (medical assistance,
insurance payouts, temporary assistance, dibao next year). The monitoring process (monitoring.py) then
looks at the outcome. Every amount is in yuan of the year.
"""

from __future__ import annotations

import numpy as np

from features.simulation.assistance import assistance_for_next_year
from features.simulation.config import CityConfig
from features.simulation.context import dates as _dates
from features.simulation.context import in_year as _in_year
from features.simulation.context import per_household as _per_household
from features.simulation.geography import Geography
from features.simulation.population import Population
from features.simulation.records import EventLog, SpellLog
from features.simulation.schooling import (
    HIGHER_VOCATIONAL,
    NOT_IN_SCHOOL,
    SECONDARY_VOCATIONAL,
    SENIOR,
    UNDERGRADUATE,
)
from features.simulation.schooling import schooling as _schooling
from features.simulation.state import (
    ACCIDENT,
    CAUSES,
    DISABILITY,
    DISASTER,
    EDUCATION,
    EMPLOYMENT,
    ILLNESS,
    INDUSTRY,
    LACK_LABOUR,
    State,
    YearOutcome,
)
from features.simulation.status import member_status as _member_status

# Yearly probability that a migrant worker loses work for months (2020 and 2022: pandemic years) — assumed.
_JOB_LOSS = {2019: 0.04, 2020: 0.16, 2021: 0.06, 2022: 0.11, 2023: 0.06, 2024: 0.05, 2025: 0.05}


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
    n, m = pop.n_households, pop.n_members
    hh = pop.m_household
    growth = (1 + config.wage_growth) ** (year - config.first_year)
    pa_m = pop.hh_poverty_alleviated[hh]
    protected = pop.hh_poverty_alleviated | state.hh_monitored | (state.hh_dibao_monthly > 0)
    protected_m = protected[hh]
    age = (np.datetime64(f"{year}-07-01") - pop.m_birth).astype(float) / 365.25
    alive0 = state.m_alive.copy()
    impact = np.zeros((n, len(CAUSES)))
    shock_date = np.full(n, np.datetime64("NaT"), "datetime64[D]")

    def note_shock(h: np.ndarray, d: np.ndarray) -> None:
        np.fmin.at(shock_date, h, d)

    # --- health ------------------------------------------------------------------------------------
    chronic_onset = (
        alive0
        & ~pop.m_chronic
        & (rng.random(m) < (0.004 + 0.0006 * np.maximum(age - 30, 0)) * np.where(pa_m, 1.3, 1.0))
    )
    pop.m_chronic |= chronic_onset
    serious_p = (
        (0.0045 + 0.0003 * np.maximum(age - 35, 0)) * np.where(pop.m_chronic, 1.6, 1.0) * np.where(pa_m, 1.25, 1.0)
    )
    serious = alive0 & ((state.m_serious & (rng.random(m) < 0.35)) | (rng.random(m) < serious_p))
    new_disability = (
        alive0 & (pop.m_disability_grade == 0) & (rng.random(m) < 0.0012 + 0.0001 * np.maximum(age - 45, 0))
    )
    grades = rng.choice([1, 2, 3, 4], m, p=[0.12, 0.23, 0.35, 0.30])
    pop.m_disability_grade = np.where(new_disability, grades, pop.m_disability_grade)
    accident = alive0 & (rng.random(m) < np.where((age >= 16) & (age < 65), 0.011, 0.004))

    mortality = np.clip(np.exp(-10.4 + 0.093 * age), 0, 0.6) * np.where(serious, 3.5, 1.0)
    dies = alive0 & (rng.random(m) < mortality)
    death_date = _dates(rng, year, m)
    d_idx = np.flatnonzero(dies)
    events.add("death", "civil_affairs", hh[d_idx], death_date[d_idx], d_idx)

    idx = np.flatnonzero(new_disability)
    cert_date = _dates(rng, year, m)
    events.add(
        "disability_certificate",
        "disabled_persons_federation",
        hh[idx],
        cert_date[idx],
        idx,
        disability_grade=pop.m_disability_grade[idx],
    )
    severe_new = idx[pop.m_disability_grade[idx] <= 2]
    state.disability_spell_start[severe_new] = cert_date[severe_new] + 30

    # Labour class this year: 1 able, 0.4 weak, 0 none/lost.
    student = _schooling(age, state, pop, rng, year, events, protected_m)
    lost = serious | (pop.m_disability_grade.__ge__(1) & (pop.m_disability_grade <= 2)) | (age >= 75)
    weak = ~lost & ((pop.m_disability_grade >= 3) | (pop.m_chronic & (age > 55)) | (age >= 65))
    able = alive0 & ~lost & ~weak & (age >= 16) & (student == NOT_IN_SCHOOL)
    weight = np.where(able, 1.0, np.where(alive0 & weak & (age >= 16), 0.4, 0.0))

    # --- hospital stays ------------------------------------------------------------------------------
    stays = np.where(serious, 1 + rng.poisson(0.8, m), 0)
    stays += (alive0 & pop.m_chronic & ~serious & (rng.random(m) < 0.12)).astype(int)
    stays += (accident & (rng.random(m) < 0.6)).astype(int)
    stays += (alive0 & (rng.random(m) < 0.03)).astype(int)
    stay_member = np.repeat(np.arange(m), stays)
    s_serious = serious[stay_member]
    s_accident = accident[stay_member] & ~s_serious
    median = np.where(
        s_serious, 26_000, np.where(s_accident, 12_000, np.where(pop.m_chronic[stay_member], 6_000, 3_500))
    )
    total = rng.lognormal(np.log(median * growth**0.5), 0.75)
    reimbursed = np.where(pop.m_insured[stay_member], np.where(protected_m[stay_member], 0.8, 0.62), 0.0)
    reimbursed = np.clip(reimbursed + rng.normal(0, 0.06, len(total)), 0, 0.92)
    oop_stay = total * (1 - reimbursed)
    stay_date = np.where(
        dies[stay_member],
        death_date[stay_member] - rng.integers(1, 60, len(total)),
        _dates(rng, year, len(total)),
    )
    stay_date = np.maximum(stay_date.astype("datetime64[D]"), np.datetime64(f"{year}-01-01"))
    days = np.clip(rng.gamma(2.0, np.where(s_serious, 7.0, 3.5)), 1, 120).astype(int)
    events.add(
        "hospital_stay",
        "medical_security",
        hh[stay_member],
        stay_date,
        stay_member,
        total_cost_yuan=total,
        oop_cost_yuan=oop_stay,
        hospital_days=days,
    )
    oop_hh = _per_household(n, hh[stay_member], oop_stay)
    oop_accident = _per_household(n, hh[stay_member], np.where(s_accident, oop_stay, 0))
    max_stay = np.zeros(n)
    np.maximum.at(max_stay, hh[stay_member], oop_stay)
    outpatient = _per_household(n, hh, np.where(alive0 & pop.m_chronic, rng.lognormal(np.log(900), 0.6, m), 0))
    serious_stay = stay_member[s_serious]
    note_shock(hh[serious_stay], stay_date[s_serious])

    # Medical assistance (docs/domain.md §4) for protected households with a large bill; insurers' anti-poverty
    # insurance pays part of the rest. Both dampen the shock.
    med_assist = np.where(protected & (oop_hh > 5_000), 0.4 * (oop_hh - 5_000), 0.0)
    first_stay = np.full(n, np.datetime64("NaT"), "datetime64[D]")
    np.fmin.at(first_stay, hh[stay_member], stay_date)
    ma = np.flatnonzero(med_assist > 0)
    paid = _in_year(first_stay[ma] + 20, year)
    spells.add("medical_assistance", ma, paid, paid, lump=med_assist[ma])
    insured_payout = np.where(
        (pop.hh_poverty_alleviated | state.hh_monitored) & (oop_hh - med_assist > 8_000),
        np.minimum(0.5 * (oop_hh - med_assist - 8_000), 30_000),
        0.0,
    )
    ip = np.flatnonzero(insured_payout > 0)
    events.add("insurance_payout", "insurer", ip, _in_year(first_stay[ip] + 45, year), amount_yuan=insured_payout[ip])
    oop = oop_hh + outpatient - med_assist

    # --- work ------------------------------------------------------------------------------------------
    migrant = able & (age >= 18) & (age < 56) & (state.m_uniform < pop.m_migrant_propensity)
    ill_months = np.where(serious, rng.integers(4, 13, m), 0) + np.where(accident, rng.integers(1, 7, m), 0)
    job_loss = migrant & (rng.random(m) < _JOB_LOSS.get(year, 0.05))
    lost_job_months = np.where(job_loss, rng.integers(3, 10, m), 0)
    jl = np.flatnonzero(job_loss)
    jl_date = _dates(rng, year, len(jl))
    events.add("job_loss", "human_resources", hh[jl], jl_date, jl)
    note_shock(hh[jl], jl_date)
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
    # Serious illness and accidents take working months from the sick; disability and death too.
    months = np.clip(would_work - lost_job_months - ill_months, 0, 12)
    months = np.where(dies, months * (death_date - np.datetime64(f"{year}-01-01")).astype(float) / 365, months)
    serious_loss = np.minimum(ill_months, would_work) * would_wage
    impact[:, ILLNESS] += _per_household(n, hh, np.where(serious, serious_loss, 0)) + oop - oop_accident
    impact[:, ACCIDENT] += _per_household(n, hh, np.where(accident & ~serious, serious_loss, 0)) + oop_accident
    impact[:, EMPLOYMENT] += _per_household(n, hh, np.minimum(lost_job_months, would_work) * mig_wage)
    # A new severe disability or a death of an earner takes the rest of the year's work.
    disability_loss = np.where(new_disability & (pop.m_disability_grade <= 2), would_work * would_wage, 0)
    # Disability costs care and forgone work every year, not only in the year it begins.
    disability_cost = np.where(
        alive0 & (pop.m_disability_grade >= 1),
        np.where(pop.m_disability_grade <= 2, 6_000, 1_500) * growth**0.5,
        0,
    )
    impact[:, DISABILITY] += _per_household(n, hh, disability_loss + disability_cost)
    for cause, mask in ((DISABILITY, new_disability), (ACCIDENT, accident & ~serious)):
        i = np.flatnonzero(mask & ((weight > 0) | (cause == ACCIDENT)))
        note_shock(hh[i], (cert_date if cause == DISABILITY else _dates(rng, year, m))[i])
    acc = np.flatnonzero(accident)
    acc_date = _dates(rng, year, len(acc))
    acc_loss = rng.lognormal(np.log(5_000), 0.9, len(acc))
    events.add("accident", "emergency", hh[acc], acc_date, acc, loss_yuan=acc_loss)
    impact[:, ACCIDENT] += _per_household(n, hh[acc], acc_loss)

    wage_migrant = _per_household(n, hh, np.where(migrant, months * mig_wage, 0))
    wage_local = _per_household(n, hh, np.where(~migrant, months * loc_wage, 0))
    labour_weight = _per_household(n, hh, np.where(alive0 & ~dies, weight, 0))
    members_alive = _per_household(n, hh, (alive0 & ~dies).astype(float))

    # Public-welfare posts: kept by most holders, granted to protected households with weak labour.
    holder = state.hh_welfare_post
    keep = (holder >= 0) & (rng.random(n) < 0.85)
    keep &= np.where(holder >= 0, state.m_alive[np.maximum(holder, 0)] & ~dies[np.maximum(holder, 0)], False)
    candidates = (
        (holder < 0) & protected & (labour_weight < 1.5) & (rng.random(n) < np.where(state.hh_monitored, 0.5, 0.1))
    )
    first_member = np.full(n, -1)
    eligible = alive0 & ~dies & (weight > 0) & (age >= 30) & (age < 70)
    np.maximum.at(first_member, hh[eligible], np.flatnonzero(eligible))
    state.hh_welfare_post = np.where(keep, holder, np.where(candidates, first_member, -1))
    post = np.flatnonzero(state.hh_welfare_post >= 0)
    post_months = rng.integers(8, 13, len(post))
    post_wage = np.zeros(n)
    post_wage[post] = post_months * 600 * growth**0.5
    spells.add(
        "public_welfare_post",
        post,
        np.full(len(post), np.datetime64(f"{year}-01-15")),
        np.full(len(post), np.datetime64(f"{year}-12-31")),
        state.hh_welfare_post[post],
        monthly=np.full(len(post), 600 * growth**0.5),
    )
    member_post_months = np.zeros(m, int)
    member_post_months[state.hh_welfare_post[post]] = post_months

    # --- business and disasters --------------------------------------------------------------------
    has_labour = labour_weight > 0
    scale = np.where(has_labour, 1.0, 0.25) * earning
    planned_orchard = pop.hh_orchard_mu * 5_000 * growth * scale
    planned_crop = pop.hh_land_mu * 650 * growth**0.5 * scale
    planned_livestock = pop.hh_livestock_scale * growth * scale
    planned_other = pop.hh_other_business * growth * scale
    factors = {k: np.ones(n) for k in ("orchard", "crop", "livestock", "other")}
    disaster_loss = np.zeros(n)
    disaster_kind = np.full(n, "", dtype=object)
    disaster_kind_loss = np.zeros(n)
    village_county = geo.county_of_village
    n_villages = len(village_county)
    for kind, hazard_col, season, hits in (
        ("meteorological", 0, (120, 240), {"orchard": (0.3, 0.85)}),  # hail
        ("meteorological", 1, (90, 125), {"orchard": (0.2, 0.7)}),  # late frost
        ("drought", 2, (150, 240), {"crop": (0.3, 0.7), "orchard": (0.1, 0.4), "livestock": (0.0, 0.2)}),
    ):
        county_hit = rng.random(len(geo.county_hazard)) < geo.county_hazard[:, hazard_col]
        village_hit = county_hit[village_county] & (rng.random(n_villages) < 0.55)
        affected = village_hit[pop.hh_village] & (rng.random(n) < 0.75)
        losses = np.zeros(n)
        for target, (lo, hi) in hits.items():
            cut = np.where(affected, rng.uniform(lo, hi, n), 0.0)
            planned = {"orchard": planned_orchard, "crop": planned_crop, "livestock": planned_livestock}[target]
            factors[target] *= 1 - cut
            losses += planned * cut
        _record_disaster(events, rng, kind, year, season, losses, disaster_kind, disaster_kind_loss, shock_date)
        disaster_loss += losses
    # Floods and landslides: rare, local, and they damage houses.
    for kind, p_county, season in (("flood", 0.05, (180, 260)), ("geological", 0.025, (170, 270))):
        county_hit = rng.random(len(geo.county_hazard)) < p_county
        village_hit = county_hit[village_county] & (rng.random(n_villages) < 0.12)
        affected = village_hit[pop.hh_village] & (rng.random(n) < 0.3)
        house = affected & (rng.random(n) < 0.25)
        state.hh_housing = np.where(house, 3, state.hh_housing)
        losses = np.where(affected, planned_crop * rng.uniform(0.2, 0.8, n), 0) + np.where(
            house, rng.uniform(10_000, 40_000, n) * growth, 0
        )
        _record_disaster(events, rng, kind, year, season, losses, disaster_kind, disaster_kind_loss, shock_date)
        disaster_loss += losses
    disease = (pop.hh_livestock_scale > 0) & (rng.random(n) < 0.04)
    cut = np.where(disease, rng.uniform(0.4, 0.9, n), 0)
    factors["livestock"] *= 1 - cut
    _record_disaster(
        events,
        rng,
        "biological",
        year,
        (60, 330),
        planned_livestock * cut,
        disaster_kind,
        disaster_kind_loss,
        shock_date,
    )
    disaster_loss += planned_livestock * cut
    impact[:, DISASTER] += disaster_loss

    # Business failure: a collapsed market, a failed cooperative or a bad investment (assumed rates).
    business = (pop.hh_other_business > 0) | (pop.hh_livestock_scale > 0)
    failure = has_labour & (rng.random(n) < np.where(business, 0.12, np.where(pop.hh_orchard_mu > 0, 0.012, 0)))
    fail_cut = np.where(failure, rng.uniform(0.5, 1.0, n), 0)
    fail_loss = (planned_other + 0.6 * planned_livestock + 0.5 * planned_orchard) * fail_cut
    factors["other"] *= 1 - fail_cut
    factors["livestock"] *= 1 - 0.6 * fail_cut
    factors["orchard"] *= 1 - 0.5 * fail_cut
    fi = np.flatnonzero(failure)
    fail_date = _dates(rng, year, len(fi))
    events.add("business_failure", "agriculture", fi, fail_date, loss_yuan=fail_loss[fi])
    note_shock(fi, fail_date)
    impact[:, INDUSTRY] += fail_loss

    noise = lambda s: rng.lognormal(0, s, n)  # noqa: E731 — the recorded year is never exactly the plan
    orchard = planned_orchard * factors["orchard"] * noise(0.2)
    crop = planned_crop * factors["crop"] * noise(0.2)
    livestock = planned_livestock * factors["livestock"] * noise(0.25)
    other = planned_other * factors["other"] * noise(0.25)
    production_cost = (
        0.42 * planned_orchard + 0.35 * planned_crop + 0.5 * planned_livestock + 0.45 * planned_other
    ) * noise(0.1)

    # --- transfers ---------------------------------------------------------------------------------
    elderly_m = alive0 & (age >= 60)
    pension = _per_household(n, hh, np.where(elderly_m, (145 + 10 * (year - 2019)) * 12, 0))
    dividend = np.where(pop.hh_poverty_alleviated, rng.uniform(300, 900, n), 0)
    land_transfer = np.where(~has_labour, pop.hh_land_mu * 380, 0)
    dibao = state.hh_dibao_monthly * 12
    tekun = np.where(state.hh_tekun, 700 * 12 * growth**0.5, 0)
    eco = pop.hh_eco_compensation
    support = pop.hh_elder_support * growth * noise(0.3)
    students = student != NOT_IN_SCHOOL
    edu_cost_m = (
        np.select(
            [
                student == SENIOR,
                student == SECONDARY_VOCATIONAL,
                student == HIGHER_VOCATIONAL,
                student == UNDERGRADUATE,
                students,
            ],
            [3_500, 2_500, 9_000, 13_000, 600],
            0,
        )
        * growth**0.5
    )
    education_cost = _per_household(n, hh, np.where(alive0, edu_cost_m, 0))
    edu_aid = np.where(pop.hh_poverty_alleviated & (education_cost > 2_000), np.minimum(education_cost * 0.4, 3_000), 0)
    ea = np.flatnonzero(edu_aid > 0)
    spells.add(
        "education_aid",
        ea,
        np.full(len(ea), np.datetime64(f"{year}-09-15")),
        np.full(len(ea), np.datetime64(f"{year}-09-15")),
        lump=edu_aid[ea],
    )
    impact[:, EDUCATION] += np.maximum(education_cost - edu_aid - 10_000, 0)

    # Temporary assistance after a shock, for protected households (docs/domain.md §4).
    shocked = disaster_loss + fail_loss + _per_household(n, hh, serious_loss) > 5_000
    temp = protected & shocked & (rng.random(n) < 0.35)
    temp_amount = np.where(temp, rng.uniform(1_000, 5_000, n), 0)
    ti = np.flatnonzero(temp)
    paid = _in_year(shock_date[ti] + 30, year)
    spells.add("temporary_assistance", ti, paid, paid, lump=temp_amount[ti])
    industry_grant = np.where(
        pop.hh_poverty_alleviated
        & ((planned_livestock + planned_other + planned_orchard) > 0)
        & (rng.random(n) < 0.25),
        rng.uniform(1_000, 3_000, n),
        0,
    )
    ig = np.flatnonzero(industry_grant > 0)
    grant_date = _dates(rng, year, len(ig), 90, 300)
    spells.add("industry_grant", ig, grant_date, grant_date, lump=industry_grant[ig])

    income = {
        "wage_migrant_yuan": wage_migrant,
        "wage_local_yuan": wage_local,
        "wage_public_welfare_yuan": post_wage,
        "business_crop_yuan": crop,
        "business_orchard_yuan": orchard,
        "business_livestock_yuan": livestock,
        "business_other_yuan": other,
        "property_dividend_yuan": dividend,
        "property_land_transfer_yuan": land_transfer,
        "transfer_dibao_yuan": dibao,
        "transfer_tekun_yuan": tekun,
        "transfer_pension_yuan": pension,
        "transfer_eco_compensation_yuan": eco,
        "transfer_insurance_payout_yuan": insured_payout,
        "transfer_other_yuan": support + temp_amount + edu_aid + industry_grant,
        "production_cost_yuan": production_cost,
        "medical_oop_compliant_yuan": oop,
        "education_expense_yuan": education_cost,
    }
    gross = sum(v for k, v in income.items() if not k.startswith(("production", "medical", "education")))
    members_count = np.maximum(members_alive, 1)
    income_pc = (gross - production_cost) / members_count
    # Lack of labour: no one can work, and the household's own income falls short of the line.
    line = config.monitoring_lines[year]
    no_labour = labour_weight < 0.5
    impact[:, LACK_LABOUR] += np.where(no_labour, np.maximum(line * members_count - gross, 0) + 1_000, 0)

    state.m_alive = alive0 & ~dies
    state.m_serious = serious & ~dies
    outcome = YearOutcome(
        year=year,
        income=income,
        members_count=members_count,
        income_pc=income_pc,
        oop=oop,
        max_stay_oop=max_stay,
        education_cost=education_cost,
        labour_weight=labour_weight,
        impact=impact,
        shock_date=shock_date,
        disaster_kind=disaster_kind,
    )
    outcome.status = _member_status(
        year, pop, state, rng, age, student, serious, weight, migrant, months, member_post_months
    )
    assistance_for_next_year(year, pop, state, outcome, config, rng, spells)
    return outcome


def _record_disaster(
    events: EventLog,
    rng: np.random.Generator,
    kind: str,
    year: int,
    season: tuple[int, int],
    losses: np.ndarray,
    disaster_kind: np.ndarray,
    disaster_kind_loss: np.ndarray,
    shock_date: np.ndarray,
) -> None:
    hit = np.flatnonzero(losses > 200)
    if not len(hit):
        return
    dates = _dates(rng, year, len(hit), *season)
    events.add(
        "disaster",
        "emergency" if kind in ("flood", "geological") else "agriculture",
        hit,
        dates,
        disaster_type=kind,
        loss_yuan=losses[hit],
    )
    bigger = losses[hit] > disaster_kind_loss[hit]
    disaster_kind[hit[bigger]] = kind
    disaster_kind_loss[hit[bigger]] = losses[hit[bigger]]
    np.fmin.at(shock_date, hit, dates)
