"""Reasons are named by evidence: a risk type only with the household's evidence of it, backgrounds by their plain
names, missing data never a reason — hand-computed per risk type, and as properties over perturbed profiles."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.profiles.evidence import EVIDENCE, ROLES, evidence_keys
from models._reason_keys import plan, route_batch, route_row
from models.batch import explain_batch
from models.calibration import SigmoidCalibrator
from models.explain import explain_households
from models.reasons import Attribution, household_reasons, probability_points, top_reasons
from tests.models.explain_fixtures import explainer, profiles, small_model

NAN = float("nan")


def _key_of(feature: str, value: float, facts: dict[str, float]) -> str:
    """The reason key one risk-raising feature gets for a household with these facts."""
    phi = np.array([[0.4]])
    att = Attribution((feature,), phi, probability_points(phi, -2.0, SigmoidCalibrator(1.0, 0.0)), -2.0,
                      np.array([-1.6]), np.array([0.17]), 0.12)  # fmt: skip
    (reason,) = household_reasons(att, 0, pd.Series({**facts, feature: value}))
    return reason.key


@pytest.mark.parametrize(
    ("feature", "value", "facts", "key"),
    [
        # 01 illness: a chronic member, a serious illness or a hospital stay
        ("hospital_oop_12m_yuan", 9_000.0, {"hospital_stays_12m": 1}, "01"),
        ("medical_oop_last_year_yuan", 4_000.0, {"chronic_count": 1}, "01"),
        ("medical_oop_last_year_yuan", 4_000.0, {"chronic_count": 0, "serious_illness_count": 0}, "health"),
        # … unless the members injured in an accident incurred at least half of the hospital cost
        ("hospital_oop_12m_yuan", 9_000.0, {"hospital_stays_12m": 1, "accidents_12m": 1,
                                            "accident_medical_oop_12m_yuan": 6_000.0}, "05"),
        ("hospital_oop_12m_yuan", 9_000.0, {"hospital_stays_12m": 1, "accidents_12m": 1,
                                            "accident_medical_oop_12m_yuan": 3_000.0}, "01"),
        # 02 disaster
        # … a material one: at least 10 % of income, or 5,000 yuan
        ("disaster_loss_6m_to_margin", 1.3, {"disasters_12m": 2, "disaster_loss_to_income_12m": 0.12}, "02"),
        ("disaster_loss_6m_to_margin", 1.3, {"disasters_12m": 1, "disaster_loss_12m_yuan": 6_000.0}, "02"),
        ("disaster_loss_6m_to_margin", 0.1, {"disasters_12m": 1, "disaster_loss_12m_yuan": 825.0,
                                             "disaster_loss_to_income_12m": 0.07}, "events"),
        ("disaster_loss_6m_to_margin", 0.0, {"disasters_12m": 0}, "events"),
        # 03 disability
        ("disabled_count", 1, {}, "03"),
        ("severe_disability_count", 0, {"disabled_count": 0}, "health"),
        # 04 lack of labour: none at all, or below 1.5 full labourers
        ("labour_units", 1.0, {}, "04"),
        ("labour_units", 2.0, {"no_labour_household": 0}, "labour"),
        ("elderly_count", 2, {"no_labour_household": 1}, "household"),
        # 05 accident
        ("accident_cost_to_margin_12m", 2.5, {"accidents_12m": 1}, "05"),
        ("accident_loss_12m_yuan", 0.0, {"accidents_12m": 0}, "events"),
        # 06 industry: a business failure, never land or orchards
        ("business_loss_to_margin_12m", 0.8, {"business_failures_12m": 1}, "06"),
        ("land_area_mu", 12.0, {"business_failures_12m": 1}, "work"),
        ("orchard_area_mu", 8.0, {"business_failures_12m": 0}, "work"),
        # 07 employment: a job loss, never months of work
        ("job_loss_income_share_12m", 0.5, {"job_losses_12m": 1}, "07"),
        ("migrant_work_months", 0.0, {"job_losses_12m": 1}, "work"),
        # … or wages as the main income of a household with labour, below 1.5× the line
        ("wage_share", 0.9, {"labour_units": 2.0, "income_to_line": 1.2}, "07"),
        ("wage_share", 0.9, {"labour_units": 2.0, "income_to_line": 1.6}, "income"),
        ("wage_share", 0.4, {"labour_units": 2.0, "income_to_line": 0.8}, "income"),
        ("wage_share", 0.9, {"labour_units": 1.0, "income_to_line": 0.8}, "income"),
        ("wage_share", 0.9, {"labour_units": 2.0, "income_to_line": NAN}, "income"),
        # 09 education: out of school, dropouts, senior or higher students with costs
        ("education_expense_last_year_yuan", 8_000.0, {"students_senior_count": 1}, "09"),
        ("students_higher_count", 1, {"education_expense_last_year_yuan": 0.0}, "schooling"),
        ("dropouts_12m", 1, {}, "09"),
        # needs
        ("housing_grade_level", 4.0, {"housing_unsafe": 1.0}, "housing"),
        ("housing_grade_level", 2.0, {"housing_unsafe": 0.0}, "living"),
        ("water_problems_count", 1, {"water_unsafe": 1.0}, "water"),
        ("uninsured_count", 1, {}, "insurance"),
        # backgrounds and data quality
        ("head_education_level", 1.0, {}, "household"),
        ("income_after_medical_to_line", 0.6, {"hospital_stays_12m": 3}, "income"),
        ("poverty_alleviated", 1.0, {}, "monitoring"),
        ("labour_skill_missing_count", 2, {"no_labour_household": 1.0}, "data_quality"),
        ("health_missing_count", 3, {"chronic_count": 1}, "data_quality"),
        ("income_to_line", NAN, {}, "data_quality"),
        ("labour_units", NAN, {}, "data_quality"),
    ],
)  # fmt: skip
def test_a_feature_takes_a_risk_type_only_with_the_households_evidence(
    feature: str, value: float, facts: dict[str, float], key: str
) -> None:
    assert _key_of(feature, value, facts) == key


def test_data_quality_is_never_a_top_reason() -> None:
    names = ("labour_skill_missing_count", "income_to_line", "hospital_oop_12m_yuan")
    phi = np.array([[0.9, 0.5, 0.2]])
    att = Attribution(names, phi, probability_points(phi, -2.0, SigmoidCalibrator(1.0, 0.0)), -2.0,
                      np.array([-0.4]), np.array([0.4]), 0.12)  # fmt: skip
    profile = pd.Series({"labour_skill_missing_count": 2, "income_to_line": NAN, "hospital_oop_12m_yuan": 500.0})
    everything = household_reasons(att, 0, profile)
    assert [r.key for r in everything] == ["health", "data_quality"]
    assert [r.key for r in top_reasons(everything)] == ["health"]
    assert sum(r.points for r in everything) == pytest.approx(float(att.points.sum()), abs=1e-12)


def test_every_feature_has_a_role_and_every_evidence_reads_features() -> None:
    assert set(ROLES) == set(small_model().feature_names)
    for item in EVIDENCE.values():
        for clause in item.any_of:
            assert all(c.feature in ROLES for c in clause)
    evidence = {r.evidence for r in ROLES.values() if r.evidence}
    assert evidence == set(EVIDENCE)


# --- properties over perturbed real profiles ----------------------------------------------------------------
EVIDENCE_COLUMNS = sorted({c.feature for item in EVIDENCE.values() for clause in item.any_of for c in clause})


@st.composite
def perturbed(draw: st.DrawFn) -> pd.DataFrame:
    """A few real profiles with some values blanked and some evidence switched on or off."""
    base = profiles()
    picks = draw(st.lists(st.integers(0, len(base) - 1), min_size=1, max_size=6, unique=True))
    rows = base.iloc[picks].reset_index(drop=True).copy()
    numeric = [c for c in small_model().feature_names if rows[c].dtype.kind == "f"]
    for column in draw(st.lists(st.sampled_from(numeric), max_size=8, unique=True)):
        rows.loc[draw(st.integers(0, len(rows) - 1)), column] = np.nan
    for column in draw(st.lists(st.sampled_from(EVIDENCE_COLUMNS), max_size=6, unique=True)):
        value = draw(st.sampled_from([0, 1, 2]))
        rows[column] = rows[column].astype("float64") if rows[column].dtype.kind == "f" else rows[column]
        rows.loc[draw(st.integers(0, len(rows) - 1)), column] = value
    return rows


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=perturbed())
def test_no_risk_type_without_evidence_no_missing_value_quoted_points_add_up(rows: pd.DataFrame) -> None:
    model = small_model()
    items = explain_households(model, rows, explainer=explainer(model))
    names = tuple(model.feature_names)
    x = model.prepare(rows)
    routes = route_batch(names, rows, np.isnan(x))
    for i, (item, (_, row)) in enumerate(zip(items, rows.iterrows(), strict=True)):
        shown = evidence_keys(row)
        for reason in item.all_reasons:
            if reason.kind in ("risk_type", "need"):
                assert reason.key in shown
            for f in reason.features if reason.kind != "data_quality" else ():
                assert not (isinstance(f.value, float) and math.isnan(f.value))
                assert not pd.isna(row[f.name])
        assert all(r.kind != "data_quality" for r in item.reasons)
        assert set(item.missing_features) == {n for n in names if pd.isna(row[n])}
        assert sum(r.points for r in item.all_reasons) == pytest.approx(item.probability - item.base_probability,
                                                                       abs=1e-9)  # fmt: skip
        assert route_row(names, row, np.isnan(x[i]).tolist()) == routes[i].tolist()
    quality = plan(names).keys.index("data_quality")
    counters = {"labour_skill_missing_count", "health_missing_count", "income_record_age_years",
                "income_recorded_days_ago"}  # fmt: skip
    for i, j in zip(*np.nonzero(routes == quality), strict=True):
        assert np.isnan(x[i, j]) or names[j] in counters
    table = explain_batch(model, rows, explainer=explainer(model))
    for k in (1, 2, 3):
        expected = [item.reasons[k - 1].key if len(item.reasons) >= k else None for item in items]
        # no reason at this rank: missing in the text column (pandas' str keeps it missing)
        assert [None if pd.isna(v) else v for v in table[f"reason{k}_key"].tolist()] == expected
    measures = [[p.measure for p in item.measures] for item in items]
    batch_measures = [[c for c in row if isinstance(c, str) and c != "None"]
                      for row in table[[f"measure{k}_code" for k in range(1, 7)]].itertuples(index=False)]  # fmt: skip
    assert batch_measures == measures
