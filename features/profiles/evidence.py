"""Evidence and background: when a profile may name a risk type, and what every feature is otherwise.

An official risk type (docs/domain.md §4; "02" stands for the whole 02xx disaster family) or a basic-needs gap
(housing, water, insurance; docs/domain.md §5) is a statement about the household that a village review must be
able to check. A model feature is not such a statement: land area, months of migrant work or an education level
describe a household's circumstances and can raise its estimated risk, but they are nobody's cause of need.
So this module declares, as data:

- `EVIDENCE`: per risk type and need, the facts on the profile that show the household has it — an illness,
  a disaster loss, an accident, a business failure, a job loss, a child out of school, a C/D house … Each fact
  is a `Condition` on one profile column; a missing value never shows anything.
- `ROLES`: per catalogue feature, the risk type or need it is evidence of (its points may carry that name, but
  only for a household that has the evidence), the *background* it belongs to otherwise (a plain name such as
  "income level" or "household structure", never a risk type), or *data quality* (how much was not recorded:
  never a reason at all).

Thresholds chosen by this project are marked `assumed`; a deployment replaces them here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

Op = Literal[">", ">=", "<", "=="]

NEEDS: Final[dict[str, tuple[str, str]]] = {
    "housing": ("住房安全", "unsafe housing"),
    "water": ("饮水安全", "unsafe drinking water"),
    "insurance": ("未参保", "member without basic medical insurance"),
}
DATA_QUALITY: Final = "data_quality"


@dataclass(frozen=True)
class Condition:
    """`feature op value`, or `feature / per op value` when `per` names a second column (a share)."""

    feature: str
    op: Op
    value: float
    per: str | None = None

    def holds(self, profile: Mapping[str, Any] | pd.Series) -> bool:
        """On one profile row; a missing or unparsable value (or a zero or missing `per`) never holds."""
        value = number(profile.get(self.feature))
        if self.per is not None:
            base = number(profile.get(self.per))
            value = value / base if base > 0 else float("nan")
        return bool(_compare(np.float64(value), self.op, self.value))

    def holds_column(self, profiles: pd.DataFrame) -> np.ndarray:
        """On every row of a profile table, as `holds` decides for each row."""
        value = number_column(profiles, self.feature)
        if self.per is not None:
            base = number_column(profiles, self.per)
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(base > 0, value / np.where(base > 0, base, 1.0), np.nan)
        return np.asarray(_compare(value, self.op, self.value), dtype=bool)

    def describe(self) -> str:
        left = f"`{self.feature}`" + (f" ÷ `{self.per}`" if self.per else "")
        return f"{left} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Evidence:
    """A risk type or need and the facts that show it: any one of `any_of` (each a list of conditions that must
    all hold)."""

    key: str
    any_of: tuple[tuple[Condition, ...], ...]
    basis: str

    def holds(self, profile: Mapping[str, Any] | pd.Series) -> bool:
        return any(all(c.holds(profile) for c in clause) for clause in self.any_of)

    def holds_column(self, profiles: pd.DataFrame) -> np.ndarray:
        found = np.zeros(len(profiles), dtype=bool)
        for clause in self.any_of:
            part = np.ones(len(profiles), dtype=bool)
            for condition in clause:
                part &= condition.holds_column(profiles)
            found |= part
        return found


def _any(*conditions: Condition) -> tuple[tuple[Condition, ...], ...]:
    return tuple((c,) for c in conditions)


C = Condition
# Labour below 1.5 full labourers (labour_units: able 1, weak or half ½) counts as lack of labour: `assumed`, as
# no national threshold was found; a household recorded as having no labour at all always counts.
LACK_OF_LABOUR_UNITS: Final = 1.5
# Hospital costs belong to an accident rather than to illness when the members injured in it incurred at least
# half of the household's out-of-pocket hospital cost (`assumed`).
ACCIDENT_HOSPITAL_SHARE: Final = 0.5
# A disaster is a risk type when its loss is material: a share of the household's income, or, where income is not
# known, an amount (both `assumed`); small losses are common and absorbed.
DISASTER_LOSS_TO_INCOME: Final = 0.1
DISASTER_LOSS_YUAN: Final = 5_000.0
# Work that does not pay enough counts as unstable employment when wages are the household's main income, it has
# the labour to earn more, and its income is within this multiple of the monitoring line (`assumed`): the
# households the policy calls 务工收入不稳定 although no job loss was recorded.
LOW_WAGE_INCOME_TO_LINE: Final = 1.5
WAGE_MAIN_SHARE: Final = 0.5

EVIDENCE: Final[dict[str, Evidence]] = {
    e.key: e
    for e in (
        Evidence("01", _any(C("serious_illness_count", ">", 0), C("chronic_count", ">", 0),
                            C("hospital_stays_12m", ">", 0)),
                 "a member with a serious or chronic illness, or a hospital stay in 12 months (docs/domain.md §4)"),
        Evidence("02", _any(C("disaster_loss_to_income_12m", ">=", DISASTER_LOSS_TO_INCOME),
                            C("disaster_loss_12m_yuan", ">=", DISASTER_LOSS_YUAN)),
                 f"a natural-disaster loss in 12 months of at least {DISASTER_LOSS_TO_INCOME:.0%} of the household's "
                 f"net income or {DISASTER_LOSS_YUAN:,.0f} yuan (`assumed`)"),
        Evidence("03", _any(C("disabled_count", ">", 0), C("disability_certificates_12m", ">", 0)),
                 "a member with a disability"),
        Evidence("04", _any(C("no_labour_household", "==", 1), C("labour_units", "<", LACK_OF_LABOUR_UNITS)),
                 f"no labour, or labour below {LACK_OF_LABOUR_UNITS:g} full labourers (`assumed`)"),
        Evidence("05", _any(C("accidents_12m", ">", 0)), "an accident recorded in 12 months"),
        Evidence("06", _any(C("business_failures_12m", ">", 0)), "a business failure recorded in 12 months"),
        Evidence("07", (
            (C("job_losses_12m", ">", 0),),
            (C("wage_share", ">=", WAGE_MAIN_SHARE), C("labour_units", ">=", LACK_OF_LABOUR_UNITS),
             C("income_to_line", "<", LOW_WAGE_INCOME_TO_LINE)),
        ), f"a job loss recorded in 12 months, or wages as the main income (≥ {WAGE_MAIN_SHARE:.0%}) of a household "
           f"with labour whose income is below {LOW_WAGE_INCOME_TO_LINE:g}× the monitoring line (`assumed`)"),
        Evidence("09", (
            (C("children_out_of_school_count", ">", 0),),
            (C("dropouts_12m", ">", 0),),
            (C("students_senior_count", ">", 0), C("education_expense_last_year_yuan", ">", 0)),
            (C("students_higher_count", ">", 0), C("education_expense_last_year_yuan", ">", 0)),
        ), "a child aged 6–15 out of school, a dropout, or a senior or higher student with education costs"),
        Evidence("housing", _any(C("housing_unsafe", "==", 1)), "the house rated C or D (docs/domain.md §5)"),
        Evidence("water", _any(C("water_unsafe", "==", 1)), "a drinking-water criterion not met (docs/domain.md §5)"),
        Evidence("insurance", _any(C("uninsured_count", ">", 0)),
                 "a member without basic medical insurance (docs/domain.md §5)"),
    )
}  # fmt: skip

# Plain names of the backgrounds: what a feature describes when it is not evidence of a risk type.
BACKGROUNDS: Final[dict[str, tuple[str, str]]] = {
    "household": ("家庭结构", "household structure"),
    "labour": ("劳动力状况", "labour situation"),
    "health": ("健康状况", "health"),
    "events": ("近期变故", "recent events"),
    "work": ("务工与生产", "work and farming"),
    "schooling": ("在学情况", "schooling"),
    "income": ("收入水平", "income level"),
    "living": ("住房与饮水条件", "housing and water"),
    "coverage": ("参保情况", "insurance coverage"),
    "assistance": ("帮扶与救助", "assistance received"),
    "monitoring": ("建档与监测历史", "registration and monitoring history"),
    "context": ("村情县情", "village and county context"),
    "other": ("其他特征", "other features"),
}


@dataclass(frozen=True)
class Role:
    """What a feature's points are called: `evidence` (a risk type or need) when the household has that
    evidence, else `background`; `moves_to` names another risk type that takes them instead when its evidence
    and a condition both hold. `background == DATA_QUALITY`: never a reason."""

    background: str
    evidence: str | None = None
    moves_to: tuple[str, Condition] | None = None

    @property
    def kind(self) -> str:
        if self.background == DATA_QUALITY:
            return "data quality"
        return "evidence" if self.evidence else "background"


_ACCIDENT_STAY = ("05", C("accident_medical_oop_12m_yuan", ">=", ACCIDENT_HOSPITAL_SHARE, per="hospital_oop_12m_yuan"))


def _roles(background: str, names: str, evidence: str | None = None, moves_to: Any = None) -> dict[str, Role]:
    return {name: Role(background, evidence, moves_to) for name in names.split()}


ROLES: Final[dict[str, Role]] = {
    **_roles("household", "members_count children_count elderly_count dependency_ratio head_age head_male "
             "head_education_level max_adult_education_level minority_head"),
    **_roles("labour", "working_age_count labour_capable_count weak_labour_count no_labour_count labour_units "
             "no_labour_household deaths_12m", "04"),
    **_roles(DATA_QUALITY, "labour_skill_missing_count health_missing_count income_record_age_years "
             "income_recorded_days_ago"),
    **_roles("health", "chronic_count serious_illness_count medical_oop_last_year_yuan insurance_payout_12m_yuan",
             "01"),
    **_roles("health", "hospital_stays_3m hospital_stays_12m hospital_days_12m hospital_oop_3m_yuan "
             "hospital_oop_12m_yuan hospital_total_cost_12m_yuan max_stay_oop_12m_yuan oop_to_income_12m", "01",
             _ACCIDENT_STAY),
    **_roles("health", "disabled_count severe_disability_count disability_certificates_12m", "03"),
    **_roles("events", "accidents_12m accident_loss_12m_yuan accident_medical_oop_12m_yuan "
             "accident_cost_to_margin_12m", "05"),
    **_roles("events", "disasters_12m disaster_loss_12m_yuan disaster_loss_to_income_12m "
             "disaster_loss_6m_to_margin", "02"),
    **_roles("events", "business_failures_12m business_failure_loss_12m_yuan business_loss_to_margin_12m", "06"),
    **_roles("events", "job_losses_12m job_loss_income_share_12m", "07"),
    **_roles("income", "wage_share", "07"),
    **_roles("work", "land_area_mu orchard_area_mu migrant_workers_count migrant_work_months "
             "out_province_workers_count public_welfare_post_months"),
    **_roles("schooling", "students_preschool_count students_compulsory_count"),
    **_roles("schooling", "students_senior_count students_higher_count children_out_of_school_count dropouts_12m "
             "education_expense_last_year_yuan", "09"),
    **_roles("income", "income_pc_yuan income_to_line income_pc_after_medical_yuan income_after_medical_to_line "
             "income_pc_change_1y income_trend_3y income_volatility_3y business_share property_share "
             "transfer_share safety_net_share production_cost_ratio"),
    **_roles("living", "housing_grade_level housing_unsafe", "housing"),
    **_roles("living", "housing_area_pc_m2"),
    **_roles("living", "water_problems_count water_unsafe", "water"),
    **_roles("coverage", "uninsured_count", "insurance"),
    **_roles("coverage", "pension_uninsured_adults_count"),
    **_roles("assistance", "dibao_active tekun_active dibao_edge_active rigid_expenditure_active "
             "disability_subsidy_active public_welfare_post_active "
             "active_measures_count active_monthly_amount_yuan assistance_spells_12m medical_assistance_12m_yuan "
             "temporary_assistance_12m dibao_ever housing_renovation_ever"),
    **_roles("monitoring", "poverty_alleviated years_since_exit relocated previously_identified "
             "identifications_count under_monitoring eliminated_assisted_count eliminated_natural_count "
             "days_since_identification days_since_elimination"),
    **_roles("context", "village_type main_industry relocation_settlement collective_income_yuan "
             "distance_to_county_km county_former_poor_village_share"),
}  # fmt: skip

OTHER_ROLE: Final = Role("other")  # a feature outside the catalogue (a bring-your-own-data model)


def role(name: str) -> Role:
    return ROLES.get(name, OTHER_ROLE)


def evidence_keys(profile: Mapping[str, Any] | pd.Series) -> frozenset[str]:
    """The risk types and needs the household's profile shows."""
    return frozenset(key for key, item in EVIDENCE.items() if item.holds(profile))


def evidence_columns(profiles: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per risk type and need, which rows of a profile table show it (as `evidence_keys` decides per row)."""
    return {key: item.holds_column(profiles) for key, item in EVIDENCE.items()}


def number(value: object) -> float:
    """A profile cell as a float; missing or unparsable → NaN."""
    if value is None or value is pd.NA or isinstance(value, str):
        return float("nan")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def number_column(profiles: pd.DataFrame, name: str) -> np.ndarray:
    """A column as float64 (absent, missing or unparsable → NaN), as `number` reads each cell."""
    if name not in profiles.columns:
        return np.full(len(profiles), np.nan)
    column = profiles[name]
    if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
        return np.array([number(v) for v in column.tolist()], dtype=np.float64)
    return pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _compare(value: Any, op: Op, threshold: float) -> Any:
    with np.errstate(invalid="ignore"):
        if op == ">":
            return value > threshold
        if op == ">=":
            return value >= threshold
        if op == "<":
            return value < threshold
        return value == threshold
