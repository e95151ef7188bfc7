"""Exact profile values on a hand-built city (tests/tiny_city.py), each worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract.monitoring_lines import default_monitoring_lines
from features.profiles.build import ProfileError, build_profile, build_profiles, feature_dtype, select_households
from features.profiles.catalogue import FEATURES, META_COLUMNS
from tests.tiny_city import AS_OF, tiny_sources


@pytest.fixture(scope="module")
def tiny() -> pd.DataFrame:
    return build_profiles(tiny_sources(), AS_OF).set_index("household_id")


# (feature, H1, H2, H3): NaN means missing.
EXPECTED = [
    # Members: M4 died before as_of and M5 is born on as_of; M2 turns 62 on as_of, M3 14 the day after.
    ("members_count", 3, 2, 0),
    ("children_count", 1, 1, 0),
    ("elderly_count", 2, 0, 0),
    ("working_age_count", 2, 1, 0),
    ("dependency_ratio", 0.5, 1.0, np.nan),
    ("head_age", 63, 43, np.nan),
    ("head_male", 1, 0, np.nan),
    ("head_education_level", 1, 2, np.nan),
    ("max_adult_education_level", 3, 2, np.nan),
    ("minority_head", 0, 1, np.nan),
    # Status of 2023 (the 2024 row of M1 is recorded after as_of).
    ("labour_capable_count", 0, 1, 0),
    ("weak_labour_count", 1, 0, 0),
    ("labour_skill_missing_count", 1, 0, 0),
    # M1 recorded weak (½); M2's skill is unrecorded: 62, health unknown, not in school → estimated able (1);
    # M3 recorded "none"; M6 skilled, M7 none.
    ("labour_units", 1.5, 1.0, 0.0),
    ("no_labour_household", 0, 0, 1),
    ("chronic_count", 1, 0, 0),
    ("serious_illness_count", 0, 0, 0),
    ("health_missing_count", 1, 0, 0),
    ("disabled_count", 1, 0, 0),
    ("severe_disability_count", 1, 0, 0),
    ("migrant_workers_count", 1, 0, 0),
    ("migrant_work_months", 8, 0, np.nan),
    ("out_province_workers_count", 1, 0, 0),
    ("public_welfare_post_months", 10, 0, np.nan),
    ("students_compulsory_count", 1, 0, 0),
    ("children_out_of_school_count", 0, 1, 0),
    ("uninsured_count", 1, 0, 0),
    ("pension_uninsured_adults_count", 1, 0, 0),
    # Events: E3 is a day before the 12-month window, E4 on as_of; E5 is M4's death.
    ("deaths_12m", 1, 0, 0),
    ("hospital_stays_3m", 1, 0, 0),
    ("hospital_stays_12m", 2, 0, 0),
    ("hospital_days_12m", 15, 0, 0),
    ("hospital_oop_3m_yuan", 8_000, 0, 0),
    ("hospital_oop_12m_yuan", 10_500, 0, 0),
    ("hospital_total_cost_12m_yuan", 40_000, 0, 0),
    ("max_stay_oop_12m_yuan", 8_000, 0, 0),
    ("insurance_payout_12m_yuan", 1_500, 0, 0),
    ("disasters_12m", 1, 0, 0),
    ("disaster_loss_12m_yuan", 6_000, 0, 0),
    ("business_failures_12m", 0, 1, 0),
    ("business_failure_loss_12m_yuan", 0, 4_000, 0),
    ("job_losses_12m", 0, 1, 0),
    ("dropouts_12m", 0, 1, 0),
    # Income 2023 of H1: gross 36,500, net 32,500 over 3 members; the 2024 record is after as_of.
    ("income_pc_yuan", 32_500 / 3, 10_000, np.nan),
    ("income_to_line", 32_500 / 3 / 6_600, 10_000 / 6_600, np.nan),
    ("income_pc_after_medical_yuan", 32_500 / 3 - 1_000, 10_000, np.nan),
    ("income_pc_change_1y", (32_500 / 3) / 12_000 - 1, np.nan, np.nan),
    ("income_record_age_years", 0, 0, np.nan),
    ("income_recorded_days_ago", 17, 17, np.nan),  # both 2023 records dated 2023-12-15
    ("wage_share", 24_000 / 36_500, 1.0, np.nan),
    ("business_share", 10_000 / 36_500, 0.0, np.nan),
    ("property_share", 500 / 36_500, 0.0, np.nan),
    ("transfer_share", 2_000 / 36_500, 0.0, np.nan),
    ("safety_net_share", 2_000 / 36_500, 0.0, np.nan),
    ("production_cost_ratio", 0.4, np.nan, np.nan),
    ("medical_oop_last_year_yuan", 3_000, np.nan, np.nan),
    ("education_expense_last_year_yuan", 1_200, np.nan, np.nan),
    ("oop_to_income_12m", 10_500 / 32_500, 0.0, np.nan),
    ("disaster_loss_to_income_12m", 6_000 / 32_500, 0.0, np.nan),
    # Shocks per member ÷ per-capita income above the 2023 line of 6,600. E6 (2023-07-01) is the first day of
    # the 6-month window; H3 has no income record, so no margin. H2's job loss hit a member with no migrant
    # wages recorded: no income lost with it.
    ("disaster_loss_6m_to_margin", 6_000 / 3 / (32_500 / 3 - 6_600), 0.0, np.nan),
    ("business_loss_to_margin_12m", 0.0, 4_000 / 2 / (10_000 - 6_600), np.nan),
    ("accident_medical_oop_12m_yuan", 0, 0, 0),
    ("accident_cost_to_margin_12m", 0.0, 0.0, np.nan),
    ("job_loss_income_share_12m", 0.0, 0.0, np.nan),
    # Housing: the C rating of 2023-10 (the 2024 A rating is after as_of); water: one criterion failed.
    ("housing_grade_level", 3, 2, np.nan),
    ("housing_unsafe", 1, 0, np.nan),
    ("housing_area_pc_m2", 30, 60, np.nan),
    ("water_problems_count", 0, 1, 0),
    ("water_unsafe", 0, 1, np.nan),
    # Assistance: tekun ends on as_of (still active); the disability subsidy starts on as_of (not yet).
    ("dibao_active", 1, 0, 0),
    ("tekun_active", 1, 0, 0),
    ("disability_subsidy_active", 0, 0, 0),
    ("public_welfare_post_active", 0, 0, 0),
    ("active_measures_count", 2, 0, 0),
    ("active_monthly_amount_yuan", 1_000, 0, 0),
    ("assistance_spells_12m", 2, 1, 0),
    ("medical_assistance_12m_yuan", 2_000, 0, 0),
    ("temporary_assistance_12m", 0, 1, 0),
    ("dibao_ever", 1, 0, 0),
    ("housing_renovation_ever", 0, 1, 0),
    # Monitoring: I2's elimination (2024-03-01) is not known on as_of; I3 is after as_of.
    ("poverty_alleviated", 1, 0, 0),
    ("years_since_exit", 6, np.nan, np.nan),
    ("previously_identified", 1, 0, 0),
    ("identifications_count", 2, 0, 0),
    ("under_monitoring", 1, 0, 0),
    ("eliminated_assisted_count", 1, 0, 0),
    ("eliminated_natural_count", 0, 0, 0),
    ("days_since_identification", 214, np.nan, np.nan),
    ("days_since_elimination", 699, np.nan, np.nan),
    # Context: both villages in county 990101, one of them former poor.
    ("collective_income_yuan", 50_000, 80_000, 80_000),
    ("county_former_poor_village_share", 0.5, 0.5, 0.5),
]


@pytest.mark.parametrize(("name", "h1", "h2", "h3"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_hand_computed_values(tiny: pd.DataFrame, name: str, h1: float, h2: float, h3: float) -> None:
    np.testing.assert_allclose(tiny.loc[["H1", "H2", "H3"], name].to_numpy(dtype=float), [h1, h2, h3], rtol=1e-12)


def test_income_trend_matches_a_least_squares_fit(tiny: pd.DataFrame) -> None:
    per_capita = np.array([9_000, 12_000, 32_500 / 3])  # 2021, 2022, 2023
    slope = np.polyfit([2021, 2022, 2023], per_capita, 1)[0]
    assert tiny.loc["H1", "income_trend_3y"] == pytest.approx(slope / per_capita.mean())
    assert tiny.loc["H1", "income_volatility_3y"] == pytest.approx(per_capita.std() / per_capita.mean())


def test_meta_columns_and_categories(tiny: pd.DataFrame) -> None:
    assert tiny.loc["H1", "income_year"] == 2023
    assert tiny.loc["H1", "monitoring_line_yuan"] == 6_600
    assert np.isnan(tiny.loc["H3", "monitoring_line_yuan"])
    assert tiny.loc["H1", "county_code"] == "990101"
    assert tiny.loc["H1", "province_code"] == "99"
    assert list(tiny["village_type"].astype(str)) == ["former_poor", "general", "general"]
    assert list(tiny["main_industry"].astype(str)) == ["apple", "mixed", "mixed"]


def test_columns_and_dtypes_follow_the_catalogue(tiny: pd.DataFrame) -> None:
    frame = tiny.reset_index()
    assert list(frame.columns) == [*META_COLUMNS, *(f.name for f in FEATURES)]
    for item in FEATURES:
        assert frame[item.name].dtype == feature_dtype(item), item.name


def test_province_line_override_changes_the_ratio() -> None:
    lines = default_monitoring_lines().with_values("99", {2023: 6_500.0})
    profiles = build_profiles(tiny_sources(), AS_OF, lines=lines).set_index("household_id")
    assert profiles.loc["H2", "income_to_line"] == pytest.approx(10_000 / 6_500)


def test_an_earlier_as_of_sees_less() -> None:
    profiles = build_profiles(tiny_sources(), "2023-06-01").set_index("household_id")
    assert profiles.loc["H1", "identifications_count"] == 1  # I2 is dated 2023-06-01: not before as_of
    assert profiles.loc["H1", "under_monitoring"] == 0  # I1 was eliminated in 2022
    assert profiles.loc["H1", "income_year"] == 2022
    assert profiles.loc["H1", "members_count"] == 3  # M4 died 2023-05-01, M5 not born yet


def test_tables_may_be_missing_entirely() -> None:
    sources = tiny_sources()
    only = {name: sources.tables[name] for name in ("households", "villages")}
    profiles = build_profiles(only, AS_OF)
    assert len(profiles) == 3
    assert (profiles["members_count"] == 0).all()
    assert profiles["income_pc_yuan"].isna().all()


def test_single_household_path_equals_the_batch_row(tiny: pd.DataFrame) -> None:
    for household in ("H1", "H2", "H3"):
        one = build_profile(select_households(tiny_sources(), [household]), AS_OF)
        expected = tiny.loc[[household]].reset_index()
        pd.testing.assert_frame_equal(one, expected)


def test_errors_name_the_problem() -> None:
    sources = tiny_sources()
    with pytest.raises(ProfileError, match="one household"):
        build_profile(sources, AS_OF)
    with pytest.raises(ProfileError, match="calendar date"):
        build_profiles(sources, "2024-01-01 12:00")
    doubled = dict(sources.tables, households=pd.concat([sources["households"]] * 2, ignore_index=True))
    with pytest.raises(ProfileError, match="duplicate household_id: 'H1'"):
        build_profiles(doubled, AS_OF)
