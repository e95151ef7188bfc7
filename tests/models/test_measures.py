"""Measures: eligibility rules hold on every proposal, proposals follow docs/domain.md §4, the docs are generated."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract import codes
from features.contract.dibao_standards import DEFAULT_DIBAO_STANDARDS, default_dibao_standards
from features.contract.monitoring_lines import MissingYearError
from features.profiles.catalogue import BY_NAME, GROUPS
from models._batch_measures import propose_groups
from models.explain import explain_households
from models.measure_table import (
    BY_RISK,
    CATEGORIES,
    DIBAO_STANDARD,
    MEASURE_LIST,
    MEASURES,
    RISK_MEASURES,
    RISK_TYPE_KEYS,
    Change,
    Income,
)
from models.measures import (
    DOC_PATH,
    eligible,
    has_labour,
    propose_measures,
    receives,
    render_measures_doc,
)
from tests.models.explain_fixtures import explainer, profiles, small_model
from tests.models.profile_strategies import profiles as generated_profiles

ROOT = Path(__file__).resolve().parents[2]
SAFETY_NET = {"dibao", "tekun"}
STANDARD_2023 = default_dibao_standards().value(2023, "99")  # the demo province of `_profile`
KEYS = sorted(BY_RISK) + ["demographics", "monitoring", "context", "assistance"]


def _profile(**values: Any) -> pd.Series:
    """A household with labour, income well above the 低保 standard, illness costs, a disability, land, a C/D
    house; 脱贫户 (so target-group measures apply)."""
    base: dict[str, Any] = {
        "no_labour_household": 0.0,
        "labour_capable_count": 2.0,
        "weak_labour_count": 0.0,
        "labour_units": 2.0,
        "working_age_count": 2.0,
        "migrant_workers_count": 0.0,
        "job_losses_12m": 0.0,
        "dibao_active": 0.0,
        "tekun_active": 0.0,
        "public_welfare_post_active": 0.0,
        "disability_subsidy_active": 0.0,
        "medical_assistance_12m_yuan": 0.0,
        "temporary_assistance_12m": 0.0,
        "insurance_payout_12m_yuan": 0.0,
        "hospital_oop_3m_yuan": 0.0,
        "hospital_oop_12m_yuan": 12_000.0,
        "medical_oop_last_year_yuan": 8_000.0,
        "chronic_count": 1.0,
        "serious_illness_count": 0.0,
        "disabled_count": 1.0,
        "severe_disability_count": 1.0,
        "land_area_mu": 4.0,
        "orchard_area_mu": 0.0,
        "housing_unsafe": 1.0,
        "uninsured_count": 0.0,
        "poverty_alleviated": 1.0,
        "under_monitoring": 0.0,
        "income_year": 2023,
        "province_code": "99",
        "income_pc_yuan": 15_000.0,
        "income_pc_after_medical_yuan": 12_000.0,
        "income_after_medical_to_line": 12_000.0 / 6_600.0,
    }
    base.update(values)
    return pd.Series(base, dtype=object)


def test_the_table_names_only_known_measures_features_and_reason_keys() -> None:
    groups_without_code = {k for k, g in GROUPS.items() if g.risk_type is None}
    coded = {g.risk_type for g in GROUPS.values() if g.risk_type}
    for m in MEASURE_LIST:
        assert m.code in codes.MEASURES and m.category in CATEGORIES
        for effect in m.effects:
            if isinstance(effect, Change):
                assert effect.feature in BY_NAME, effect
            else:
                assert isinstance(effect, Income) and effect.per in ("household", "member", *BY_NAME)
        conditions = [c for clause in m.eligible_when for c in clause]
        for condition in (*conditions, *([m.received_when] if m.received_when else [])):
            assert condition.feature in BY_NAME, condition
            assert condition.times is None or condition.times in BY_NAME, condition
            assert condition.standard in (None, DIBAO_STANDARD), condition
        assert m.basis and m.eligibility
        assert m.eligible_when, f"{m.code} has no eligibility rule"
    for entry in RISK_MEASURES:
        assert entry.key in coded | groups_without_code
        assert set(entry.with_labour) | set(entry.without_labour) <= set(MEASURES)
    assert {"01", "02", "03", "04", "05", "06", "07", "09", "housing", "water", "insurance"} <= set(BY_RISK)
    named = {"critical_illness_insurance", "anti_poverty_insurance", "yulu_plan", "relocation_follow_up"}
    assert named | {"work_relief", "consumption_support", "assistance_workshop"} <= set(MEASURES)
    assert MEASURES["assistance_workshop"].zh == "就业帮扶车间"


def test_labour_decides_development_or_social_protection_in_the_table() -> None:
    for entry in RISK_MEASURES:
        assert not SAFETY_NET & set(entry.with_labour), entry.key
        assert all(MEASURES[c].family != "development" for c in entry.without_labour), entry.key


@pytest.mark.parametrize("key", sorted(BY_RISK))
def test_households_with_and_without_labour_get_their_own_line(key: str) -> None:
    with_labour = propose_measures(_profile(), [key], per_reason=5)
    without = propose_measures(_profile(no_labour_household=1.0, labour_capable_count=0.0), [key], per_reason=5)
    assert all(p.measure not in SAFETY_NET for p in with_labour)
    assert all(p.family != "development" for p in without)


def test_a_measure_already_received_is_replaced_by_the_next_one() -> None:
    alone = {"no_labour_household": 1.0, "labour_capable_count": 0.0, "working_age_count": 0.0}
    poor = {"income_pc_yuan": 5_000.0, "income_pc_after_medical_yuan": 4_000.0}
    (first,) = propose_measures(_profile(**alone, **poor, dibao_active=1.0), ["04"], per_reason=1)
    assert first.measure == "tekun" and first.replaces == ("dibao",) and first.risks == ("04",)
    both = _profile(**alone, **poor, dibao_active=1.0, tekun_active=1.0)
    assert [p.measure for p in propose_measures(both, ["04"], per_reason=1)] == ["asset_dividend"]
    post = propose_measures(_profile(public_welfare_post_active=1.0), ["04"], per_reason=1)
    assert [(p.measure, p.replaces) for p in post] == [("assistance_workshop", ("public_welfare_post",))]


def test_combined_risks_get_combined_measures_each_naming_its_risks() -> None:
    proposals = propose_measures(_profile(), ["01", "housing", "05"], per_reason=2)
    by_code = {p.measure: p for p in proposals}
    assert [p.measure for p in proposals] == [
        "critical_illness_insurance",
        "medical_assistance",
        "housing_renovation",
        "anti_poverty_insurance",
    ]
    assert by_code["housing_renovation"].risks == ("housing",) and by_code["housing_renovation"].category == "housing"
    assert by_code["medical_assistance"].risks == ("01", "05")  # proposed once for both
    assert all(p.category_zh and p.category_en and p.zh and p.en for p in proposals)


def test_illness_gets_the_medical_chain_in_order() -> None:
    uninsured = _profile(uninsured_count=1.0)
    assert [p.measure for p in propose_measures(uninsured, ["01"], per_reason=3)] == [
        "subsidised_insurance",
        "critical_illness_insurance",
        "medical_assistance",
    ]
    small_costs = _profile(hospital_oop_12m_yuan=900.0, medical_oop_last_year_yuan=600.0)
    assert [p.measure for p in propose_measures(small_costs, ["01"], per_reason=2)] == [
        "medical_assistance",
        "chronic_disease_service",
    ]


def test_risk_types_are_served_before_background_reasons() -> None:
    proposals = propose_measures(_profile(), ["income", "demographics", "01"], per_reason=2)
    assert [p.measure for p in proposals] == [
        "critical_illness_insurance",
        "medical_assistance",
        "employment_training",
        "labour_export",
    ]
    assert [p.risks for p in proposals] == [("01",), ("01",), ("income",), ("income",)]


def test_income_below_the_dibao_standard_gets_dibao_whatever_the_reasons() -> None:
    poor = _profile(income_pc_yuan=STANDARD_2023 - 1, income_pc_after_medical_yuan=STANDARD_2023 - 3_000)
    proposals = propose_measures(poor, ["01", "context"], per_reason=2)
    assert [p.measure for p in proposals] == ["critical_illness_insurance", "medical_assistance", "dibao"]
    assert proposals[-1].risks == ("income",)
    # Below the standard only after compliant medical costs: the same (assumed: costs are deducted).
    after_costs = _profile(income_pc_yuan=STANDARD_2023 + 500, income_pc_after_medical_yuan=STANDARD_2023 - 500)
    assert "dibao" in [p.measure for p in propose_measures(after_costs, ["01"])]
    rich = _profile(income_pc_yuan=STANDARD_2023, income_pc_after_medical_yuan=STANDARD_2023)
    assert "dibao" not in [p.measure for p in propose_measures(rich, ["01", "income", "04"], per_reason=5)]
    receiving = _profile(income_pc_yuan=1_000.0, dibao_active=1.0)
    assert "dibao" not in [p.measure for p in propose_measures(receiving, ["income"], per_reason=5)]
    # One reason and one measure per reason: the floor takes the only place.
    assert [p.measure for p in propose_measures(poor, ["01"], per_reason=1)] == ["dibao"]


def test_the_dibao_standard_is_the_income_years_and_the_provinces() -> None:
    table = default_dibao_standards().with_values("61", {2023: 10_000.0})
    profile = _profile(income_pc_yuan=9_000.0, income_pc_after_medical_yuan=9_000.0, province_code="61")
    assert eligible(profile, MEASURES["dibao"], {DIBAO_STANDARD: table})
    assert not eligible(profile, MEASURES["dibao"])  # national 2023 value
    assert not eligible(_profile(income_pc_yuan=9_000.0, income_pc_after_medical_yuan=9_000.0), MEASURES["dibao"])
    year_2019 = _profile(
        income_pc_yuan=5_500.0, income_pc_after_medical_yuan=5_500.0, income_year=2019, province_code="61"
    )
    assert DEFAULT_DIBAO_STANDARDS[2019] < 5_500.0 < DEFAULT_DIBAO_STANDARDS[2020]
    assert not eligible(year_2019, MEASURES["dibao"])
    assert eligible(_profile(**{**year_2019.to_dict(), "income_year": 2020}), MEASURES["dibao"])
    # The demo province's own standard (0.9 × its line) comes before the national one.
    demo_2025 = default_dibao_standards().value(2025, "99")
    assert demo_2025 < DEFAULT_DIBAO_STANDARDS[2025]
    between = _profile(income_pc_yuan=demo_2025 + 100, income_pc_after_medical_yuan=demo_2025 + 100, income_year=2025)
    assert not eligible(between, MEASURES["dibao"])
    national = between.copy()
    national["province_code"] = "61"
    assert eligible(national, MEASURES["dibao"])


def test_a_year_missing_from_the_dibao_table_is_an_error_naming_table_and_year() -> None:
    profile = _profile(income_year=2031)
    with pytest.raises(MissingYearError, match=r"'dibao_standard'.*2031"):
        propose_measures(profile, ["01"])
    frame = pd.DataFrame([profile.to_dict()])
    with pytest.raises(MissingYearError, match=r"'dibao_standard'.*2031"):
        propose_groups(frame, ["01"], np.array([[0]]), 2)


def test_measures_apply_only_where_the_profile_shows_their_object() -> None:
    profile = _profile(housing_unsafe=0.0, disabled_count=0.0)
    assert not propose_measures(profile, ["housing"])
    assert "disability_subsidy" not in [p.measure for p in propose_measures(profile, ["03"], per_reason=4)]
    assert not eligible(_profile(housing_unsafe=float("nan")), MEASURES["housing_renovation"])


# Hand-computed cases: (measure, changes to `_profile()`, eligible). Every measure has a yes and a no.
ALONE = {"no_labour_household": 1.0, "labour_capable_count": 0.0, "working_age_count": 0.0, "labour_units": 0.0}
NOT_TARGET = {"poverty_alleviated": 0.0, "under_monitoring": 0.0}
NO_SHOCK = {"hospital_oop_12m_yuan": 0.0, "disaster_loss_12m_yuan": 0.0, "accident_loss_12m_yuan": 0.0}
NO_STUDENTS = {
    "students_preschool_count": 0.0,
    "students_compulsory_count": 0.0,
    "students_senior_count": 0.0,
    "students_higher_count": 0.0,
}
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("dibao", {}, False),
    ("dibao", {"income_pc_yuan": STANDARD_2023 - 0.01}, True),
    ("dibao", {"income_pc_after_medical_yuan": STANDARD_2023 - 1}, True),
    ("dibao", {"income_pc_yuan": math.nan, "income_pc_after_medical_yuan": math.nan}, False),
    ("dibao", {"income_pc_yuan": 100.0, "income_year": math.nan}, False),
    ("dibao", {"income_pc_yuan": 100.0, "tekun_active": 1.0}, False),  # 特困供养 already covers basic living
    ("dibao", {"income_pc_yuan": 100.0, "tekun_active": math.nan}, False),
    ("dibao", {"income_pc_yuan": 100.0, "no_labour_household": 1.0, "working_age_count": 0.0}, False),  # 特困 case
    ("dibao", {"income_pc_yuan": 100.0, "no_labour_household": 1.0, "working_age_count": 1.0}, True),
    # Alone, income above the standard but below it after medical costs: no 特困 case, so 低保 is due.
    ("dibao", {**ALONE, "income_pc_yuan": STANDARD_2023 + 500, "income_pc_after_medical_yuan": 100.0}, True),
    ("tekun", {**ALONE, "income_pc_yuan": 5_000.0}, True),
    ("tekun", {**ALONE, "income_pc_yuan": 5_000.0, "working_age_count": 1.0}, False),
    ("tekun", {**ALONE, "income_pc_yuan": 5_000.0, "no_labour_household": math.nan}, False),
    ("tekun", {**ALONE, "income_pc_yuan": STANDARD_2023}, False),
    ("temporary_assistance", {}, False),
    ("temporary_assistance", {"hospital_oop_3m_yuan": 2_000.0}, True),
    ("temporary_assistance", {"accident_loss_12m_yuan": 500.0}, True),
    ("temporary_assistance", {"disaster_loss_6m_to_margin": 0.3}, True),
    ("temporary_assistance", {"disaster_loss_12m_yuan": 9_000.0}, False),  # a disaster, but not recent
    ("disaster_relief", {"disasters_12m": 1.0}, True),
    ("disaster_relief", {"disasters_12m": 0.0}, False),
    ("disability_subsidy", {}, True),  # grade 1–2 disability
    ("disability_subsidy", {"severe_disability_count": 0.0}, False),
    ("disability_subsidy", {"severe_disability_count": 0.0, "dibao_active": 1.0}, True),
    ("disability_subsidy", {"disabled_count": 0.0}, False),
    ("anti_poverty_insurance", {}, True),
    ("anti_poverty_insurance", NO_SHOCK, False),
    ("asset_dividend", {}, True),
    ("asset_dividend", NOT_TARGET, False),
    ("asset_dividend", {"poverty_alleviated": 0.0, "under_monitoring": math.nan}, False),
    ("land_transfer", {}, True),
    ("land_transfer", {"land_area_mu": 0.0, "orchard_area_mu": 3.0}, False),
    ("land_transfer", {"land_area_mu": math.nan}, False),
    ("subsidised_insurance", {"uninsured_count": 1.0}, True),
    ("subsidised_insurance", {}, False),
    ("critical_illness_insurance", {}, True),
    ("critical_illness_insurance", {"hospital_oop_12m_yuan": 4_000.0, "medical_oop_last_year_yuan": 4_999.0}, False),
    ("medical_assistance", {}, True),
    ("medical_assistance", NOT_TARGET, False),
    ("medical_assistance", {**NOT_TARGET, "income_after_medical_to_line": 0.8}, True),
    ("medical_assistance", {**NOT_TARGET, "dibao_edge_active": 1.0}, True),  # 低保边缘 (国办发〔2021〕42号)
    ("medical_assistance", {**NOT_TARGET, "rigid_expenditure_active": 1.0}, True),
    ("medical_assistance", {**NOT_TARGET, "dibao_edge_active": math.nan, "rigid_expenditure_active": math.nan}, False),
    ("medical_assistance", {"hospital_oop_12m_yuan": 0.0, "medical_oop_last_year_yuan": math.nan}, False),
    ("chronic_disease_service", {}, True),
    ("chronic_disease_service", {"chronic_count": 0.0, "serious_illness_count": 0.0}, False),
    ("rehabilitation", {}, True),
    ("rehabilitation", {"disabled_count": 0.0}, False),
    ("public_welfare_post", {}, True),
    ("public_welfare_post", {"migrant_workers_count": 2.0}, False),
    ("public_welfare_post", {"labour_capable_count": 0.0, "weak_labour_count": 1.0, "labour_units": 0.5}, True),
    ("public_welfare_post", {"labour_capable_count": 0.0, "labour_units": 0.0}, False),
    ("employment_training", {}, True),
    ("employment_training", {"migrant_workers_count": 2.0}, False),
    ("employment_training", {"migrant_workers_count": 2.0, "job_losses_12m": 1.0}, True),
    ("employment_training", {"labour_capable_count": 0.0, "weak_labour_count": 1.0, "labour_units": 0.5}, False),
    ("employment_training", {"migrant_workers_count": math.nan}, False),
    ("labour_export", {"migrant_workers_count": 1.0}, True),
    ("labour_export", {"migrant_workers_count": 2.0}, False),
    ("assistance_workshop", {"labour_capable_count": 0.0, "weak_labour_count": 1.0, "labour_units": 0.5}, True),
    ("assistance_workshop", {"migrant_workers_count": 2.0}, False),
    ("work_relief", {"job_losses_12m": 1.0, "migrant_workers_count": 2.0}, True),
    ("work_relief", {"labour_capable_count": 0.0}, False),
    ("industry_grant", {}, True),
    ("industry_grant", NOT_TARGET, False),
    ("industry_grant", {"land_area_mu": 0.0, "orchard_area_mu": 0.0, "business_share": 0.0}, False),
    ("technical_service", {}, True),
    ("technical_service", {"land_area_mu": 0.0, "orchard_area_mu": math.nan, "business_share": math.nan}, False),
    ("consumption_support", {"land_area_mu": 0.0, "business_share": 0.3}, True),
    ("consumption_support", {"land_area_mu": 0.0, "business_share": 0.0}, False),
    ("microcredit", {"poverty_alleviated": 0.0, "under_monitoring": 1.0}, True),
    ("microcredit", NOT_TARGET, False),
    ("agricultural_insurance", {"land_area_mu": 0.0, "orchard_area_mu": 2.0}, True),
    ("agricultural_insurance", {"land_area_mu": 0.0}, False),
    ("relocation_follow_up", {"relocated": 1.0}, True),
    ("relocation_follow_up", {"relocated": 0.0, "relocation_settlement": 1.0}, True),
    ("relocation_follow_up", {"relocated": 0.0, "relocation_settlement": math.nan}, False),
    ("education_aid", {**NO_STUDENTS, "students_compulsory_count": 1.0}, True),
    ("education_aid", NO_STUDENTS, False),
    ("yulu_plan", {**NO_STUDENTS, "students_senior_count": 1.0}, True),
    ("yulu_plan", {**NO_STUDENTS, **NOT_TARGET, "students_higher_count": 1.0}, False),
    ("yulu_plan", {**NO_STUDENTS, "students_compulsory_count": 2.0}, False),
    ("dropout_control", {"children_out_of_school_count": 1.0}, True),
    ("dropout_control", {"children_out_of_school_count": 0.0, "dropouts_12m": 0.0}, False),
    ("housing_renovation", {}, True),
    ("housing_renovation", {"housing_unsafe": 0.0, "housing_grade_level": 2.0}, False),
    ("water_project", {"water_unsafe": 1.0}, True),
    ("water_project", {"water_unsafe": 0.0, "water_problems_count": 0.0}, False),
]


@pytest.mark.parametrize(("code", "changes", "expected"), CASES)
def test_each_eligibility_rule_by_hand(code: str, changes: dict[str, Any], expected: bool) -> None:
    assert eligible(_profile(**changes), MEASURES[code]) is expected


def test_every_measure_has_a_hand_computed_yes_and_no() -> None:
    assert {(code, expected) for code, _, expected in CASES} == {(m.code, e) for m in MEASURE_LIST for e in (1, 0)}


@pytest.mark.slow  # about 10 s on 2 cores: outside `make test-fast`
@settings(max_examples=300, deadline=None)
@given(
    profile=generated_profiles(),
    keys=st.lists(st.sampled_from(KEYS), max_size=4, unique=True),
    per_reason=st.integers(1, 3),
)
def test_no_ineligible_or_received_measure_is_ever_proposed(
    profile: dict[str, Any], keys: list[str], per_reason: int
) -> None:
    proposals = propose_measures(profile, keys, per_reason=per_reason)
    codes_ = [p.measure for p in proposals]
    assert len(codes_) == len(set(codes_)) <= per_reason * max(len(keys), 1)
    for p in proposals:
        item = MEASURES[p.measure]
        assert eligible(profile, item), (p.measure, item.eligible_when)
        assert not receives(profile, item)
        assert set(p.risks) <= {*keys, "income"}
        if p.measure == "dibao":  # never on top of 特困供养, nor beside a proposal of it
            assert profile.get("tekun_active") == 0 and "tekun" not in codes_
        if has_labour(profile):
            assert p.measure != "tekun"
        else:
            assert p.family != "development"
    floor_due = eligible(profile, MEASURES["dibao"]) and not receives(profile, MEASURES["dibao"])
    assert ("dibao" in codes_) is floor_due
    first_keys = [p.risks[0] for p in proposals]
    background = [i for i, k in enumerate(first_keys) if k not in RISK_TYPE_KEYS]
    assert all(k not in RISK_TYPE_KEYS for k in first_keys[min(background, default=len(first_keys)) :])


@pytest.mark.slow  # about 10 s on 2 cores: outside `make test-fast`
@settings(max_examples=200, deadline=None)
@given(profile=generated_profiles(), blank=st.lists(st.sampled_from(sorted(BY_NAME)), min_size=1, max_size=6))
def test_a_missing_value_never_makes_a_household_eligible(profile: dict[str, Any], blank: list[str]) -> None:
    missing = {**profile, **dict.fromkeys(blank, math.nan)}
    for item in MEASURE_LIST:
        assert eligible(profile, item) or not eligible(missing, item), (item.code, blank)


@pytest.mark.slow  # about 10 s on 2 cores: outside `make test-fast`
@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(generated_profiles(), min_size=1, max_size=12),
    combos=st.lists(st.lists(st.integers(-1, len(KEYS) - 1), min_size=3, max_size=3), min_size=12, max_size=12),
    per_reason=st.integers(1, 2),
)
def test_the_batch_road_proposes_what_the_single_road_does(
    rows: list[dict[str, Any]], combos: list[list[int]], per_reason: int
) -> None:
    frame = pd.DataFrame(rows)
    key_indexes = np.array(combos[: len(rows)])
    groups = propose_groups(frame, KEYS, key_indexes, per_reason)
    for i, row in enumerate(rows):
        keys = [KEYS[k] for k in key_indexes[i] if k >= 0]
        expected = propose_measures(frame.iloc[i], keys, per_reason=per_reason)
        assert groups.proposals[groups.group_of_row[i]] == expected, i
        assert propose_measures(row, keys, per_reason=per_reason) == expected


def test_reasons_without_measures_propose_nothing() -> None:
    assert propose_measures(_profile(), ["demographics", "monitoring", "context"]) == []


def test_labour_from_the_profile() -> None:
    assert has_labour(_profile())
    assert not has_labour(_profile(no_labour_household=1.0))
    assert not has_labour(pd.Series({"no_labour_household": float("nan"), "labour_capable_count": float("nan")}))


def test_explained_households_never_get_a_measure_they_may_not_or_already_receive() -> None:
    model = small_model()
    rows = profiles().head(300)
    result = explain_households(model, rows, explainer=explainer(model))
    proposed = 0
    for item, (_, row) in zip(result, rows.iterrows(), strict=True):
        reason_keys = {r.key for r in item.reasons}
        for p in item.measures:
            proposed += 1
            assert eligible(row, MEASURES[p.measure]) and not receives(row, MEASURES[p.measure])
            assert set(p.risks) <= reason_keys | {"income"}
            if not item.has_labour:
                assert p.family != "development"
    assert proposed > 100


def test_docs_are_up_to_date() -> None:
    assert (ROOT / DOC_PATH).read_text(encoding="utf-8") == render_measures_doc(), (
        "docs/measures.md is stale: run `python -m models.measures`"
    )
