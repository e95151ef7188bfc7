"""Transfers and assistance paid within a year: pensions, dividends, land rent, dibao and tekun, family
support, temporary assistance after shocks and industry grants. docs/simulation.md, step 7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulation.business import Business
from features.simulation.context import YearContext


@dataclass
class Transfers:
    """Per household, yuan of the year."""

    pension: np.ndarray
    dividend: np.ndarray
    land_transfer: np.ndarray
    dibao: np.ndarray
    tekun: np.ndarray
    eco_compensation: np.ndarray
    family_support: np.ndarray  # from children living elsewhere


def transfers(ctx: YearContext, has_labour: np.ndarray) -> Transfers:
    """Pensions for 60+, asset-income dividends for poverty-alleviated households, land-transfer rent when
    nobody can work, the dibao and tekun decided last year, ecological compensation and family support."""
    pop, state, n, growth, year = ctx.pop, ctx.state, ctx.n, ctx.growth, ctx.year
    elderly_m = ctx.alive & (ctx.age >= 60)
    return Transfers(
        pension=ctx.per_household(ctx.hh, np.where(elderly_m, (145 + 10 * (year - 2019)) * 12, 0)),
        dividend=np.where(pop.hh_poverty_alleviated, ctx.rng.uniform(300, 900, n), 0),
        land_transfer=np.where(~has_labour, pop.hh_land_mu * 380, 0),
        dibao=state.hh_dibao_monthly * 12,
        tekun=np.where(state.hh_tekun, 700 * 12 * growth**0.5, 0),
        eco_compensation=pop.hh_eco_compensation,
        family_support=pop.hh_elder_support * growth * ctx.noise(0.3),
    )


def temporary_assistance(ctx: YearContext, shock_loss: np.ndarray) -> np.ndarray:
    """Temporary assistance after a shock, for protected households (docs/domain.md §4)."""
    n, rng = ctx.n, ctx.rng
    temp = ctx.protected & (shock_loss > 5_000) & (rng.random(n) < 0.35)
    temp_amount = np.where(temp, rng.uniform(1_000, 5_000, n), 0)
    ti = np.flatnonzero(temp)
    paid = ctx.in_year(ctx.shock_date[ti] + 30)
    ctx.spells.add("temporary_assistance", ti, paid, paid, lump=temp_amount[ti])
    return temp_amount


def industry_grants(ctx: YearContext, business: Business) -> np.ndarray:
    """Grants to poverty-alleviated households with an orchard, a herd or a shop."""
    planned, rng, n = business.planned, ctx.rng, ctx.n
    industry_grant = np.where(
        ctx.pop.hh_poverty_alleviated
        & ((planned["livestock"] + planned["other"] + planned["orchard"]) > 0)
        & (rng.random(n) < 0.25),
        rng.uniform(1_000, 3_000, n),
        0,
    )
    ig = np.flatnonzero(industry_grant > 0)
    grant_date = ctx.dates(len(ig), 90, 300)
    ctx.spells.add("industry_grant", ig, grant_date, grant_date, lump=industry_grant[ig])
    return industry_grant
