"""The synthetic city's truth about need: who is in need each year, from when, why, and whether anyone found it.

Need is the policy's test (docs/domain.md §2, §3, §5) applied to the true year, not to what verification measured:
per-capita net income after compliant out-of-pocket medical costs below the year's line, a rigid-expenditure
trigger (a single hospital stay or the year's out-of-pocket costs above the local thresholds; a disaster loss or
the year's education costs above the same yearly share), or a failed
guarantee (a house rated C or D, unsafe drinking water, a child who dropped out of school this year). It is
written whether or not the monitoring process identifies the household, so that a model can be judged against
the need itself rather than against who got found (docs/model-quality.md, "Need versus identification").

The truth goes to `_truth/need.parquet` beside the identification causes; it is not a contract table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from features.simulation.config import CityConfig
from features.simulation.monitoring import risk_types
from features.simulation.population import Population
from features.simulation.records import _take
from features.simulation.state import DISASTER, State, YearOutcome

NEED_FILE = "need.parquet"
# The order in which a household's trigger is named when several apply.
TRIGGERS = ("income", "rigid_expenditure", "guarantee")


@dataclass
class NeedLog:
    """One row per household and year in need; `in_need_last_year` carries the previous year's state."""

    n_households: int
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    in_need_last_year: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.in_need_last_year = np.zeros(self.n_households, bool)

    def to_frame(self, household_ids: pa.Array) -> pd.DataFrame:
        columns = (
            "household",
            "need_year",
            "need_date",
            "continuing",
            "trigger",
            "cause",
            "discovered",
            "identified_date",
        )
        if not self.parts:
            return pd.DataFrame({name: [] for name in ("household_id", *columns[1:])})
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in columns}
        frame = pd.DataFrame({"household_id": _take(household_ids, cols.pop("household"))})
        for name, values in cols.items():
            frame[name] = values
        return frame


def record_need(
    year: int,
    pop: Population,
    state: State,
    outcome: YearOutcome,
    config: CityConfig,
    dropped_out_before: np.ndarray,
    monitored_before: np.ndarray,
    identified: np.ndarray,
    identified_date: np.ndarray,
    log: NeedLog,
) -> None:
    """Append this year's households in need to `log`.

    `dropped_out_before` and `monitored_before` are the members' dropout and the households' monitoring state
    before this year's steps and identifications. `identified` marks the households this year's monitoring
    process identified (dated `identified_date`); a household in need that was identified this year counts as
    discovered. Draws no random numbers, so the city's tables are the same with or without the truth.
    """
    active = ~state.hh_dissolved
    pa_ = pop.hh_poverty_alleviated
    line = config.monitoring_lines[year]
    income_need = outcome.income_pc - outcome.oop / outcome.members_count < line
    protected = pa_ | monitored_before
    prior = config.rural_income_prior_year[year]
    yearly_share = np.where(pa_, config.yearly_oop_share_poverty_alleviated, config.yearly_oop_share_other)
    single = np.where(protected, config.single_stay_oop_poverty_alleviated_yuan, config.single_stay_oop_other_yuan)
    # Medical costs by the local rules of docs/domain.md §3; a disaster loss or the year's education costs against
    # the same yearly share (assumed: the policy names them as rigid expenditure without a threshold).
    rigid = (
        (outcome.oop > yearly_share * prior)
        | (outcome.max_stay_oop > single)
        | (outcome.impact[:, DISASTER] > yearly_share * prior)
        | (outcome.education_cost > yearly_share * prior)
    )
    new_dropout = np.bincount(
        pop.m_household, weights=(state.m_dropped_out & ~dropped_out_before).astype(float), minlength=pop.n_households
    )
    guarantee = (state.hh_housing >= 2) | ~state.hh_water_ok | (new_dropout > 0)
    need = active & (income_need | rigid | guarantee)
    idx = np.flatnonzero(need)
    year_end_record = np.datetime64(f"{year}-12-01")
    # The need starts with the year's first costed shock; without one it shows when the year's income is known.
    when = np.where(np.isnat(outcome.shock_date[idx]), year_end_record, outcome.shock_date[idx])
    codes, _ = risk_types(outcome, idx)
    trigger = np.select([income_need[idx], rigid[idx]], list(TRIGGERS[:2]), TRIGGERS[2])
    log.parts.append(
        {
            "household": idx,
            "need_year": np.full(len(idx), year),
            "need_date": when.astype("datetime64[D]"),
            "continuing": log.in_need_last_year[idx],
            "trigger": trigger,
            "cause": codes[:, 0].astype(str),
            "discovered": identified[idx],
            "identified_date": np.where(identified[idx], identified_date[idx], np.datetime64("NaT")).astype(
                "datetime64[D]"
            ),
        }
    )
    log.in_need_last_year = need
