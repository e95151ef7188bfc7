"""Assistance decided at the end of a year from its outcome: dibao, tekun, housing and water repairs."""

from __future__ import annotations

import numpy as np

from features.simulation.context import YearContext
from features.simulation.population import ELDER_ALONE
from features.simulation.state import YearOutcome


def assistance_for_next_year(ctx: YearContext, outcome: YearOutcome) -> None:
    """Dibao, tekun, housing and water repairs decided from this year's outcome."""
    year, pop, state, config, rng, spells = ctx.year, ctx.pop, ctx.state, ctx.config, ctx.rng, ctx.spells
    n = pop.n_households
    line = config.monitoring_lines[year]
    standard = config.dibao_standards[year]
    own_pc = outcome.income_pc - outcome.income["transfer_dibao_yuan"] / outcome.members_count
    next_start = np.datetime64(f"{year + 1}-01-01") + rng.integers(0, 80, n).astype("timedelta64[D]")
    on = state.hh_dibao_monthly > 0
    weak = outcome.labour_weight < 1.0
    # Monitored households are reviewed for the safety net up to the monitoring line itself.
    grant = ~on & (own_pc < np.where(state.hh_monitored, line, standard)) & weak & (rng.random(n) < 0.85)
    leave = on & (own_pc > 1.3 * standard)
    # Close finished dibao spells.
    li = np.flatnonzero(leave)
    spells.add(
        "dibao",
        li,
        state.hh_dibao_start[li],
        np.full(len(li), np.datetime64(f"{year}-12-31")),
        monthly=state.hh_dibao_monthly[li],
    )
    state.hh_dibao_monthly[li] = 0
    gi = np.flatnonzero(grant)
    # Monitored households get the gap to the line closed by combined safety-net measures (assumed).
    target = np.where(state.hh_monitored[gi], 1.1 * line, standard)
    state.hh_dibao_monthly[gi] = np.clip((target - own_pc[gi]) / 12, 80, target / 12) * outcome.members_count[gi]
    state.hh_dibao_start[gi] = next_start[gi]
    # Tekun: elderly people alone, without labour and without family support.
    tk = (
        ~state.hh_tekun
        & (pop.hh_archetype == ELDER_ALONE)
        & (outcome.labour_weight == 0)
        & (pop.hh_elder_support == 0)
        & (rng.random(n) < 0.5)
    )
    ti = np.flatnonzero(tk)
    spells.add("tekun", ti, next_start[ti], None, monthly=np.full(len(ti), 700.0))
    state.hh_tekun |= tk
    # Housing: C/D houses renovated with a grant; water faults repaired.
    renovate = (state.hh_housing >= 2) & (rng.random(n) < 0.45)
    ri = np.flatnonzero(renovate)
    r_date = np.datetime64(f"{year}-01-01") + rng.integers(150, 330, len(ri)).astype("timedelta64[D]")
    spells.add("housing_renovation", ri, r_date, r_date + 90, lump=rng.uniform(20_000, 40_000, len(ri)))
    state.hh_housing = np.where(
        renovate, 0, np.where((state.hh_housing == 1) & (rng.random(n) < 0.01), 2, state.hh_housing)
    )
    fix = ~state.hh_water_ok & (rng.random(n) < 0.5)
    fi = np.flatnonzero(fix)
    f_date = np.datetime64(f"{year}-01-01") + rng.integers(100, 330, len(fi)).astype("timedelta64[D]")
    spells.add("water_project", fi, f_date, f_date + 30, lump=rng.uniform(2_000, 8_000, len(fi)))
    state.hh_water_ok = (state.hh_water_ok | fix) & ~(rng.random(n) < 0.004)
