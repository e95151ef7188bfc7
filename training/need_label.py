"""The `need_12m` label: need within 12 months after `as_of`, as the records of a deployment show it.

Identification says whom the process found; need says who needed finding (docs/domain.md §7, §14). A household
is in need within the window [as_of, as_of + horizon) when, judged only from records dated inside the window:

- **income**: an income record's per-capita net income after compliant out-of-pocket medical costs is below the
  monitoring line of its income year (docs/domain.md §3);
- **rigid expenditure** (docs/domain.md §3, `RuleConfig`): one hospital stay's out-of-pocket cost above
  6,000 yuan (poverty-alleviated households) or 10,000 (others); the window's out-of-pocket hospital costs, its
  disaster losses or the education costs of an income record above 50 % (poverty-alleviated) or 100 % (others)
  of the province's prior-year rural per-capita income — the yearly share for disaster and education is
  `assumed`, the policy naming them as rigid expenditure without a threshold of their own;
- **guarantees** (docs/domain.md §5): a housing check rating the house C or D, a water check failing any of its
  four conditions, or a school dropout.

Observation. Department records (hospital stays, disasters, dropouts, checks) cover every household, but income
is recorded every year only for some (docs/domain.md §6). So the label is *observed* when the window holds an
income record — then every criterion could be checked — or when a department record alone shows need (1); a
household with neither is *unobserved* (NaN), never "no need". `training.observation` weights the observed
rows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.contract.monitoring_lines import YearProvinceTable
from features.profiles.build import per_capita_net_income, source_table
from features.profiles.rules import RuleConfig
from features.reading.sources import Sources

SourcesLike = Sources | Mapping[str, pd.DataFrame]
NEED_CRITERIA = ("income", "rigid_expenditure", "guarantee")


def need_in_window(
    sources: SourcesLike,
    profiles: pd.DataFrame,
    as_of: pd.Timestamp,
    horizon: pd.Timestamp,
    lines: YearProvinceTable,
    rules: RuleConfig | None = None,
) -> pd.DataFrame:
    """Per profile row: `need` (1.0 / 0.0 / NaN when unobserved), `income_observed` and one 0/1 column per
    criterion, from the records dated in [as_of, horizon). Aligned with `profiles` (same index)."""
    rules = rules or RuleConfig()
    ids = profiles["household_id"].to_numpy(dtype=object)
    provinces = profiles["province_code"].to_numpy(dtype=object)
    former_poor = profiles["poverty_alleviated"].fillna(0).to_numpy(dtype=float) > 0
    prior_income = rules.rural_incomes.lookup(np.full(len(ids), float(as_of.year)), provinces)
    yearly_share = np.where(former_poor, rules.yearly_oop_share_alleviated, rules.yearly_oop_share_other)
    yearly_limit = yearly_share * prior_income

    income = _in_window(source_table(sources, "income"), "recorded_date", as_of, horizon)
    after_medical = per_capita_net_income(income) - _floats(income["medical_oop_compliant_yuan"]) / _floats(
        income["members_count"]
    )
    income_line = lines.lookup(_floats(income["income_year"]), _province_of(income, ids, provinces))
    below = pd.Series(after_medical < income_line, index=income["household_id"].to_numpy()).groupby(level=0).any()
    education = pd.Series(_floats(income["education_expense_yuan"]), index=income["household_id"].to_numpy())
    education_max = education.groupby(level=0).max()

    events = _in_window(source_table(sources, "events"), "event_date", as_of, horizon)
    stays = events[events["event_type"] == "hospital_stay"]
    stay_oop = pd.Series(_floats(stays["oop_cost_yuan"]), index=stays["household_id"].to_numpy())
    disasters = events[events["event_type"] == "disaster"]
    disaster_loss = pd.Series(_floats(disasters["loss_yuan"]), index=disasters["household_id"].to_numpy())
    dropouts = events.loc[events["event_type"] == "school_dropout", "household_id"]

    single_limit = np.where(former_poor, rules.single_stay_oop_protected_yuan, rules.single_stay_oop_other_yuan)
    rigid = (
        (_per_household(stay_oop.groupby(level=0).max(), ids) > single_limit)
        | (_per_household(stay_oop.groupby(level=0).sum(), ids) > yearly_limit)
        | (_per_household(disaster_loss.groupby(level=0).sum(), ids) > yearly_limit)
        | (_per_household(education_max, ids) > yearly_limit)
    )
    housing = _in_window(source_table(sources, "housing_checks"), "check_date", as_of, horizon)
    water = _in_window(source_table(sources, "water_checks"), "check_date", as_of, horizon)
    water_ok = water[["quantity_ok", "quality_ok", "convenience_ok", "reliability_ok"]].astype("boolean")
    water_failed = water.loc[~water_ok.fillna(True).all(axis=1).to_numpy(), "household_id"]
    guarantee = (
        np.isin(ids, housing.loc[housing["housing_grade"].isin(["C", "D"]), "household_id"].to_numpy(dtype=object))
        | np.isin(ids, water_failed.to_numpy(dtype=object))
        | np.isin(ids, dropouts.to_numpy(dtype=object))
    )
    income_need = below.reindex(ids).fillna(False).to_numpy(dtype=bool)
    income_observed = np.isin(ids, income["household_id"].to_numpy(dtype=object))
    any_need = income_need | rigid | guarantee
    need = np.where(any_need, 1.0, np.where(income_observed, 0.0, np.nan))
    return pd.DataFrame(
        {
            "need": need,
            "income_observed": income_observed,
            "need_income": income_need.astype(np.int8),
            "need_rigid_expenditure": rigid.astype(np.int8),
            "need_guarantee": guarantee.astype(np.int8),
        },
        index=profiles.index,
    )


def _in_window(frame: pd.DataFrame, column: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    when = pd.to_datetime(frame[column])
    return frame[((when >= start) & (when < end)).to_numpy()]


def _floats(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _per_household(values: pd.Series, ids: np.ndarray) -> np.ndarray:
    """`values` (indexed by household id) for each id; 0 where a household has none."""
    return values.reindex(ids).fillna(0.0).to_numpy(dtype=float)


def _province_of(rows: pd.DataFrame, ids: np.ndarray, provinces: np.ndarray) -> np.ndarray:
    """The province of each row's household (from the profiles); None where the household has no profile."""
    province = pd.Series(provinces, index=ids)
    province = province[~province.index.duplicated()]
    return province.reindex(rows["household_id"].to_numpy(dtype=object)).to_numpy(dtype=object)
