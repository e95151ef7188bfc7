"""The official-rule baseline: the criteria monitoring offices apply today, as flags on a profile table.

Each flag cites its source in docs/domain.md; thresholds that are local policy or our assumption live in
`RuleConfig` so that a deployment sets its own. The rule score ranks households by the weighted number of
flags, ties broken by the lower income-to-line ratio: the baseline every model must beat, and the flags
shown beside a model's score.

Flags read only profile columns, so they inherit the profile's point-in-time guarantee. A value that is
missing (no income record, no housing check) never raises a flag: unknown is not evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from features.monitoring_lines import YearProvinceTable, default_rural_incomes


@dataclass(frozen=True)
class Rule:
    name: str
    zh: str
    en: str
    source: str
    weight: int  # points in the rule score (documented choice: income evidence counts most)


RULES: Final[tuple[Rule, ...]] = (
    Rule("income_below_line", "人均纯收入低于监测线", "per-capita net income below the monitoring line",
         "docs/domain.md §2–§3 (income inside the monitoring range)", 3),
    Rule("income_near_line", "人均纯收入接近监测线", "per-capita net income just above the monitoring line",
         "docs/domain.md §2 (marginal households; band width assumed)", 1),
    Rule("income_sharp_drop", "收入大幅下降", "sharp drop of per-capita net income",
         "docs/domain.md §2 (突发严重困难户: sharp income drop; threshold assumed)", 2),
    Rule("rigid_medical_single_stay", "单次住院自付超标", "one hospital stay over the out-of-pocket limit",
         "docs/domain.md §3 (single stay > 6,000 / 10,000 yuan)", 2),
    Rule("rigid_medical_yearly", "年度医疗自付超标", "yearly out-of-pocket medical cost over the threshold",
         "docs/domain.md §3 (> 50 % / 100 % of the prior-year provincial rural income)", 2),
    Rule("child_out_of_school", "义务教育阶段儿童失学辍学", "child aged 6–15 out of school or dropped out",
         "docs/domain.md §5 (compulsory education)", 1),
    Rule("uninsured_member", "有成员未参加基本医保", "member without basic medical insurance",
         "docs/domain.md §5 (basic medical care)", 1),
    Rule("housing_unsafe", "住房为C/D级危房", "house rated C/D", "docs/domain.md §5 (safe housing)", 1),
    Rule("water_unsafe", "饮水安全未达标", "drinking water not safe", "docs/domain.md §5 (drinking water)", 1),
    Rule("no_labour_household", "整户无劳动力", "whole household without labour",
         "docs/domain.md §4 and §6 (households without labour)", 1),
)  # fmt: skip

RULE_NAMES: Final = tuple(r.name for r in RULES)


@dataclass(frozen=True)
class RuleConfig:
    """Thresholds of the rules. Defaults: docs/domain.md §3 where it gives a figure, `assumed` otherwise."""

    income_line_multiple: float = 1.0  # income inside the range: below k × line (docs/domain.md §2)
    near_line_multiple: float = 1.5  # assumed: the band just above the range watched as "marginal"
    sharp_drop: float = 0.5  # assumed: a fall of at least 50 % on the year before
    single_stay_oop_protected_yuan: float = 6_000.0  # docs/domain.md §3: monitored or poverty-alleviated people
    single_stay_oop_other_yuan: float = 10_000.0  # docs/domain.md §3: others
    yearly_oop_share_alleviated: float = 0.5  # docs/domain.md §3: of the prior-year rural income
    yearly_oop_share_other: float = 1.0
    rural_incomes: YearProvinceTable = field(default_factory=default_rural_incomes)
    weights: Mapping[str, int] = field(default_factory=lambda: {r.name: r.weight for r in RULES})


def rule_flags(profiles: pd.DataFrame, config: RuleConfig | None = None) -> pd.DataFrame:
    """One boolean column per rule, aligned with `profiles` (a profile table from `build_profiles`)."""
    config = config or RuleConfig()
    p = profiles

    def col(name: str) -> np.ndarray:
        return p[name].to_numpy(dtype=float, na_value=np.nan)

    ratio = col("income_to_line")
    alleviated = col("poverty_alleviated") == 1
    protected = alleviated | (col("under_monitoring") == 1)
    stay_threshold = np.where(protected, config.single_stay_oop_protected_yuan, config.single_stay_oop_other_yuan)
    # The 12-month window ends on the day before as_of: that day's year is the expenditure year.
    spend_year = (pd.to_datetime(p["as_of"]) - pd.Timedelta(days=1)).dt.year.to_numpy(dtype=float)
    provinces = p["province_code"].to_numpy(dtype=object)
    reference = config.rural_incomes.lookup(spend_year, provinces)
    share = np.where(alleviated, config.yearly_oop_share_alleviated, config.yearly_oop_share_other)
    yearly_oop = np.fmax(col("hospital_oop_12m_yuan"), col("medical_oop_last_year_yuan"))
    flags = {
        "income_below_line": ratio < config.income_line_multiple,
        "income_near_line": (ratio >= config.income_line_multiple) & (ratio < config.near_line_multiple),
        "income_sharp_drop": col("income_pc_change_1y") <= -config.sharp_drop,
        "rigid_medical_single_stay": col("max_stay_oop_12m_yuan") > stay_threshold,
        "rigid_medical_yearly": yearly_oop > share * reference,
        "child_out_of_school": (col("children_out_of_school_count") > 0) | (col("dropouts_12m") > 0),
        "uninsured_member": col("uninsured_count") > 0,
        "housing_unsafe": col("housing_unsafe") == 1,
        "water_unsafe": col("water_unsafe") == 1,
        "no_labour_household": col("no_labour_household") == 1,
    }
    return pd.DataFrame(flags, index=p.index)


def rule_flags_row(profile: Mapping[str, Any], config: RuleConfig | None = None) -> dict[str, bool]:
    """`rule_flags` of one profile (column name → value), in plain Python: the same flags in the same order.

    The API asks for the flags of one household per request; the frame path's ~15 pandas column reads and
    date arithmetic cost more than the rest of the rules together. Missing values (None, NaN, pd.NA) compare
    false, as NaN does in the frame path.
    """
    config = config or RuleConfig()

    def num(name: str) -> float:
        value = profile[name]  # a missing column raises KeyError, as in the frame path
        if value is None or value is pd.NA:
            return math.nan
        return float(value)

    ratio = num("income_to_line")
    alleviated = num("poverty_alleviated") == 1
    protected = alleviated or num("under_monitoring") == 1
    stay_threshold = config.single_stay_oop_protected_yuan if protected else config.single_stay_oop_other_yuan
    as_of = profile["as_of"]
    reference = math.nan
    if as_of is not None and not pd.isna(as_of):
        # The 12-month window ends on the day before as_of: that day's year is the expenditure year.
        spend_year = (pd.Timestamp(as_of) - pd.Timedelta(days=1)).year
        province = profile["province_code"]
        reference = config.rural_incomes.value(spend_year, province if isinstance(province, str) else None)
    share = config.yearly_oop_share_alleviated if alleviated else config.yearly_oop_share_other
    hospital, last_year = num("hospital_oop_12m_yuan"), num("medical_oop_last_year_yuan")
    yearly_oop = last_year if math.isnan(hospital) else hospital if math.isnan(last_year) else max(hospital, last_year)
    return {
        "income_below_line": ratio < config.income_line_multiple,
        "income_near_line": config.income_line_multiple <= ratio < config.near_line_multiple,
        "income_sharp_drop": num("income_pc_change_1y") <= -config.sharp_drop,
        "rigid_medical_single_stay": num("max_stay_oop_12m_yuan") > stay_threshold,
        "rigid_medical_yearly": yearly_oop > share * reference,
        "child_out_of_school": num("children_out_of_school_count") > 0 or num("dropouts_12m") > 0,
        "uninsured_member": num("uninsured_count") > 0,
        "housing_unsafe": num("housing_unsafe") == 1,
        "water_unsafe": num("water_unsafe") == 1,
        "no_labour_household": num("no_labour_household") == 1,
    }


def rule_scores(profiles: pd.DataFrame, config: RuleConfig | None = None) -> pd.Series:
    """Weighted flag count plus a tie-break in [0, 1): a lower income-to-line ratio ranks higher."""
    config = config or RuleConfig()
    flags = rule_flags(profiles, config)
    points = sum(flags[name].to_numpy(dtype=float) * config.weights.get(name, 0) for name in RULE_NAMES)
    ratio = profiles["income_to_line"].to_numpy(dtype=float, na_value=np.nan)
    # Integer weights keep the tie-break from reordering households with different point totals.
    tie_break = np.where(np.isnan(ratio), 0.0, 0.999 / (1.0 + np.maximum(ratio, 0.0)))
    return pd.Series(points + tie_break, index=profiles.index, name="rule_score")


def rank_by_rules(profiles: pd.DataFrame, config: RuleConfig | None = None) -> pd.DataFrame:
    """household_id, rule score, rank (1 = highest risk) and the flags, highest score first."""
    flags = rule_flags(profiles, config)
    ranked = pd.concat([profiles[["household_id"]], rule_scores(profiles, config), flags], axis=1)
    ranked = ranked.sort_values("rule_score", ascending=False, kind="stable").reset_index(drop=True)
    ranked.insert(2, "rule_rank", np.arange(1, len(ranked) + 1))
    return ranked


def describe_flags(flags: pd.Series, lang: Literal["zh", "en"] = "zh") -> list[str]:
    """The raised flags of one household (a row of `rule_flags`) as display texts."""
    return [(r.zh if lang == "zh" else r.en) for r in RULES if bool(flags.get(r.name, False))]
