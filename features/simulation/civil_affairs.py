"""The civil-affairs categories of the synthetic city (docs/domain.md §16): whom civil affairs recognises, and when.

- 低保对象 and 特困人员 mirror the city's dibao and tekun spells (features/simulation/assistance.py): civil affairs
  records the same decision, with the same dates.
- 低保边缘家庭: at the yearly review, a household on neither 低保 nor 特困 for the coming year whose own per-capita
  income (without 低保 payments) is below `dibao_edge_multiple` × the year's 低保 standard.
- 刚性支出困难家庭: a household on none of the above whose per-capita income is below the province's rural
  per-capita disposable income of the year before (the benchmark of the rigid-expenditure trigger) and whose
  compliant medical and education costs exceed `rigid_expenditure_share_of_income` of its net income.

Both are recognised only for a share of the households that qualify (recognition needs an application or an
active search; `assumed`), from the start of the next year until that year's review at its end. The draws come
from their own random stream, so the city itself — every shock, income, identification and observation — is the
same with or without this table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from features.simulation.config import CityConfig
from features.simulation.records import _take
from features.simulation.state import State, YearOutcome

SAFETY_NET_MEASURES = ("dibao", "tekun")  # assistance measures whose code is also the civil-affairs category
COLUMNS = ("household_id", "category", "start_date", "end_date")


def civil_affairs_stream(seed: int) -> np.random.Generator:
    """The random stream of civil-affairs recognitions, separate from the city's own."""
    return np.random.default_rng(np.random.SeedSequence([seed, 2]))


def safety_net_rows(spells: pd.DataFrame) -> pd.DataFrame:
    """低保 and 特困 recognitions: one row per dibao or tekun spell of the assistance table, same dates."""
    if not len(spells):
        return pd.DataFrame(columns=list(COLUMNS))
    rows = spells[spells["measure"].isin(SAFETY_NET_MEASURES)]
    return pd.DataFrame(
        {
            "household_id": rows["household_id"].to_numpy(),
            "category": rows["measure"].to_numpy(dtype=object),
            "start_date": rows["start_date"].to_numpy(),
            "end_date": rows["end_date"].to_numpy(),
        }
    )


def qualifying(
    year: int, state: State, outcome: YearOutcome, config: CityConfig, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per household (edge, rigid): qualifies at this year's review as 低保边缘 / 刚性支出困难 (module docstring).

    Call after the year's assistance decisions, so that `state` says who is on 低保 or 特困 next year."""
    members = np.maximum(outcome.members_count, 1)
    own_pc = outcome.income_pc - outcome.income["transfer_dibao_yuan"] / members
    on_safety_net = (state.hh_dibao_monthly > 0) | state.hh_tekun
    open_ = active & ~on_safety_net
    edge = open_ & (own_pc < config.dibao_edge_multiple * config.dibao_standards[year])
    costs = outcome.oop + outcome.education_cost
    net = outcome.income_pc * members
    rigid = (
        open_
        & ~edge
        & (outcome.income_pc < config.rural_income_prior_year[year])
        & (costs > config.rigid_expenditure_share_of_income * np.maximum(net, 0.0))
        & (costs > 0)
    )
    return edge, rigid


def recognised_rows(
    year: int,
    state: State,
    outcome: YearOutcome,
    config: CityConfig,
    active: np.ndarray,
    ids: pa.Array,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """This year's 低保边缘 and 刚性支出困难 recognitions, valid from early next year to its review."""
    edge, rigid = qualifying(year, state, outcome, config, active)
    n = len(active)
    # Every draw is made for every household, so that the stream does not depend on who qualifies.
    edge &= rng.random(n) < config.dibao_edge_recognised_share
    rigid &= rng.random(n) < config.rigid_expenditure_recognised_share
    start = np.datetime64(f"{year + 1}-01-01") + rng.integers(0, 80, n).astype("timedelta64[D]")
    end = np.datetime64(f"{year + 1}-12-31")
    frames = []
    for category, chosen in (("dibao_edge", edge), ("rigid_expenditure", rigid)):
        idx = np.flatnonzero(chosen)
        frames.append(
            pd.DataFrame(
                {
                    "household_id": _take(ids, idx).to_numpy(dtype=object),
                    "category": category,
                    "start_date": start[idx].astype("datetime64[ns]"),
                    "end_date": np.full(len(idx), end).astype("datetime64[ns]"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
