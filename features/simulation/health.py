"""Health and life events of a year, and the hospital stays and medical assistance they bring.

Chronic illness rises with age; serious illness is more likely with a chronic condition and in
poverty-alleviated households and persists from year to year; disability onsets with a certificate and a
grade; accidents; deaths (Gompertz mortality, higher when seriously ill). docs/simulation.md, steps 3 and 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulation.context import YearContext
from features.simulation.state import ACCIDENT, DISABILITY


@dataclass
class Health:
    """This year's health events, per member."""

    serious: np.ndarray
    new_disability: np.ndarray
    accident: np.ndarray
    dies: np.ndarray
    death_date: np.ndarray
    certificate_date: np.ndarray  # of a new disability certificate (drawn for every member)


@dataclass
class Stays:
    """Hospital stays of the year (one entry per stay) and their out-of-pocket cost per household."""

    member: np.ndarray
    date: np.ndarray
    oop: np.ndarray  # per household, after reimbursement
    oop_accident: np.ndarray  # per household, the part from accident stays
    max_stay_oop: np.ndarray  # per household, the largest single stay
    outpatient: np.ndarray  # per household, chronic-condition outpatient spending


@dataclass
class Medical:
    oop: np.ndarray  # per household: compliant out-of-pocket spending after medical assistance
    insurance_payout: np.ndarray  # per household


def health_events(ctx: YearContext) -> Health:
    """Chronic onsets, serious illness, new disabilities, accidents and deaths; records deaths and certificates."""
    pop, state, rng, age, alive, m, hh = ctx.pop, ctx.state, ctx.rng, ctx.age, ctx.alive, ctx.m, ctx.hh
    pa_m = pop.hh_poverty_alleviated[hh]
    chronic_onset = (
        alive & ~pop.m_chronic & (rng.random(m) < (0.004 + 0.0006 * np.maximum(age - 30, 0)) * np.where(pa_m, 1.3, 1.0))
    )
    pop.m_chronic |= chronic_onset
    serious_p = (
        (0.0045 + 0.0003 * np.maximum(age - 35, 0)) * np.where(pop.m_chronic, 1.6, 1.0) * np.where(pa_m, 1.25, 1.0)
    )
    serious = alive & ((state.m_serious & (rng.random(m) < 0.35)) | (rng.random(m) < serious_p))
    new_disability = alive & (pop.m_disability_grade == 0) & (rng.random(m) < 0.0012 + 0.0001 * np.maximum(age - 45, 0))
    grades = rng.choice([1, 2, 3, 4], m, p=[0.12, 0.23, 0.35, 0.30])
    pop.m_disability_grade = np.where(new_disability, grades, pop.m_disability_grade)
    accident = alive & (rng.random(m) < np.where((age >= 16) & (age < 65), 0.011, 0.004))

    mortality = np.clip(np.exp(-10.4 + 0.093 * age), 0, 0.6) * np.where(serious, 3.5, 1.0)
    dies = alive & (rng.random(m) < mortality)
    death_date = ctx.dates(m)
    d_idx = np.flatnonzero(dies)
    ctx.events.add("death", "civil_affairs", hh[d_idx], death_date[d_idx], d_idx)

    idx = np.flatnonzero(new_disability)
    cert_date = ctx.dates(m)
    ctx.events.add(
        "disability_certificate",
        "disabled_persons_federation",
        hh[idx],
        cert_date[idx],
        idx,
        disability_grade=pop.m_disability_grade[idx],
    )
    severe_new = idx[pop.m_disability_grade[idx] <= 2]
    state.disability_spell_start[severe_new] = cert_date[severe_new] + 30
    return Health(serious, new_disability, accident, dies, death_date, cert_date)


def hospital_stays(ctx: YearContext, health: Health) -> Stays:
    """Dated stays from serious illness, chronic conditions, accidents and minor causes, with their cost.

    Reimbursement is higher for protected households (the "three-level guarantee") and none without insurance.
    """
    pop, rng, alive, m, n, hh, growth = ctx.pop, ctx.rng, ctx.alive, ctx.m, ctx.n, ctx.hh, ctx.growth
    serious, accident = health.serious, health.accident
    stays = np.where(serious, 1 + rng.poisson(0.8, m), 0)
    stays += (alive & pop.m_chronic & ~serious & (rng.random(m) < 0.12)).astype(int)
    stays += (accident & (rng.random(m) < 0.6)).astype(int)
    stays += (alive & (rng.random(m) < 0.03)).astype(int)
    stay_member = np.repeat(np.arange(m), stays)
    s_serious = serious[stay_member]
    s_accident = accident[stay_member] & ~s_serious
    median = np.where(
        s_serious, 26_000, np.where(s_accident, 12_000, np.where(pop.m_chronic[stay_member], 6_000, 3_500))
    )
    total = rng.lognormal(np.log(median * growth**0.5), 0.75)
    reimbursed = np.where(pop.m_insured[stay_member], np.where(ctx.protected_m[stay_member], 0.8, 0.62), 0.0)
    reimbursed = np.clip(reimbursed + rng.normal(0, 0.06, len(total)), 0, 0.92)
    oop_stay = total * (1 - reimbursed)
    stay_date = np.where(
        health.dies[stay_member],
        health.death_date[stay_member] - rng.integers(1, 60, len(total)),
        ctx.dates(len(total)),
    )
    stay_date = np.maximum(stay_date.astype("datetime64[D]"), np.datetime64(f"{ctx.year}-01-01"))
    days = np.clip(rng.gamma(2.0, np.where(s_serious, 7.0, 3.5)), 1, 120).astype(int)
    ctx.events.add(
        "hospital_stay",
        "medical_security",
        hh[stay_member],
        stay_date,
        stay_member,
        total_cost_yuan=total,
        oop_cost_yuan=oop_stay,
        hospital_days=days,
    )
    oop_hh = ctx.per_household(hh[stay_member], oop_stay)
    oop_accident = ctx.per_household(hh[stay_member], np.where(s_accident, oop_stay, 0))
    max_stay = np.zeros(n)
    np.maximum.at(max_stay, hh[stay_member], oop_stay)
    outpatient = ctx.per_household(hh, np.where(alive & pop.m_chronic, rng.lognormal(np.log(900), 0.6, m), 0))
    ctx.note_shock(hh[stay_member[s_serious]], stay_date[s_serious])
    return Stays(stay_member, stay_date, oop_hh, oop_accident, max_stay, outpatient)


def medical_assistance(ctx: YearContext, stays: Stays) -> Medical:
    """Medical assistance (docs/domain.md §4) for protected households with a large bill; insurers'
    anti-poverty insurance pays part of the rest. Both dampen the shock."""
    pop, state, n, hh = ctx.pop, ctx.state, ctx.n, ctx.hh
    oop_hh = stays.oop
    med_assist = np.where(ctx.protected & (oop_hh > 5_000), 0.4 * (oop_hh - 5_000), 0.0)
    first_stay = np.full(n, np.datetime64("NaT"), "datetime64[D]")
    np.fmin.at(first_stay, hh[stays.member], stays.date)
    ma = np.flatnonzero(med_assist > 0)
    paid = ctx.in_year(first_stay[ma] + 20)
    ctx.spells.add("medical_assistance", ma, paid, paid, lump=med_assist[ma])
    insured_payout = np.where(
        (pop.hh_poverty_alleviated | state.hh_monitored) & (oop_hh - med_assist > 8_000),
        np.minimum(0.5 * (oop_hh - med_assist - 8_000), 30_000),
        0.0,
    )
    ip = np.flatnonzero(insured_payout > 0)
    ctx.events.add("insurance_payout", "insurer", ip, ctx.in_year(first_stay[ip] + 45), amount_yuan=insured_payout[ip])
    return Medical(oop=oop_hh + stays.outpatient - med_assist, insurance_payout=insured_payout)


def date_disabilities_and_accidents(ctx: YearContext, health: Health, weight: np.ndarray) -> None:
    """Dates the shocks of a new disability (of someone who works) and of accidents; records accidents and
    the property they destroy."""
    hh = ctx.hh
    for cause, mask in ((DISABILITY, health.new_disability), (ACCIDENT, health.accident & ~health.serious)):
        i = np.flatnonzero(mask & ((weight > 0) | (cause == ACCIDENT)))
        ctx.note_shock(hh[i], (health.certificate_date if cause == DISABILITY else ctx.dates(ctx.m))[i])
    acc = np.flatnonzero(health.accident)
    acc_date = ctx.dates(len(acc))
    acc_loss = ctx.rng.lognormal(np.log(5_000), 0.9, len(acc))
    ctx.events.add("accident", "emergency", hh[acc], acc_date, acc, loss_yuan=acc_loss)
    ctx.impact[:, ACCIDENT] += ctx.per_household(hh[acc], acc_loss)
