"""What-if: declared effects change the profile consistently; the re-score is the model's, labelled as such."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.profiles._income import INCOME_FLOOR_YUAN as PROFILE_FLOOR
from models.explain import explain_households
from models.measure_table import MEASURE_LIST, MEASURES, Income
from models.whatif import (
    INCOME_FLOOR_YUAN,
    LABEL_EN,
    LABEL_ZH,
    apply_effects,
    apply_measure,
    what_if,
    what_if_batch,
    what_if_prepared,
)
from tests.models.explain_fixtures import explainer, profiles, small_model

SHARES = ["wage_share", "business_share", "property_share", "transfer_share"]


def _with_income() -> pd.DataFrame:
    rows = profiles()
    known = rows[rows["income_pc_yuan"].notna() & rows["wage_share"].notna() & (rows["members_count"] > 0)]
    return known.head(50).reset_index(drop=True)


@pytest.mark.slow
def test_the_re_score_is_the_models_probability_of_the_changed_profile() -> None:
    model = small_model()
    rows = profiles().head(40)
    result = explain_households(model, rows, explainer=explainer(model))
    checked = 0
    for i, item in enumerate(result):
        profile = rows.iloc[[i]].reset_index(drop=True)
        for proposal, scenario in zip(item.measures, item.what_if, strict=True):
            expected = model.predict_proba(apply_measure(profile, MEASURES[proposal.measure]))[0]
            assert scenario.measure == proposal.measure
            assert scenario.probability_after == pytest.approx(expected, abs=1e-12)
            assert scenario.probability_before == pytest.approx(item.probability, abs=1e-12)
            assert scenario.points == pytest.approx(expected - item.probability, abs=1e-12)
            assert (scenario.label_zh, scenario.label_en) == (LABEL_ZH, LABEL_EN)
            checked += 1
    assert checked > 20
    assert item.what_if_label_zh == "模型估计，非因果效应" and "not a causal effect" in item.what_if_label_en


@pytest.mark.slow
def test_every_measure_re_scores_bitwise_as_the_changed_profile_frame() -> None:
    # what_if_batch changes the prepared matrix instead of copying the profile: the reference is the frame path.
    model = small_model()
    rows = profiles().head(60).reset_index(drop=True)
    measures = [[MEASURE_LIST[(i + k) % len(MEASURE_LIST)] for k in range(i % 4)] for i in range(len(rows))]
    result = what_if_batch(model, rows, measures)
    for i, items in enumerate(measures):
        for item, scenario in zip(items, result[i], strict=True):
            expected = model.predict_proba(apply_measure(rows.iloc[[i]], item))[0]
            assert scenario.probability_after == expected, (i, item.code)


@pytest.mark.parametrize("count", [1, 2, 7])
def test_rows_as_mappings_re_score_bitwise_as_the_frame(count: int) -> None:
    # The API passes one household's values as a dict instead of a one-row frame: the same numbers, exactly.
    model = small_model()
    frame = profiles().head(120).reset_index(drop=True)
    frame.loc[::5, "monitoring_line_yuan"] = np.nan  # the line then comes from income ÷ its ratio to the line
    x = model.prepare(frame)
    for start in range(0, len(frame) - count + 1, count):
        chunk = frame.iloc[start : start + count].reset_index(drop=True)
        rows = [dict(zip(chunk.columns, chunk.iloc[i].to_numpy(dtype=object), strict=True)) for i in range(count)]
        measures = [list(MEASURE_LIST[(start + i) % 3 :: 3]) for i in range(count)]
        prepared = x[start : start + count].copy()
        assert what_if_prepared(model, rows, prepared, measures) == what_if_prepared(model, chunk, prepared, measures)


def test_one_household_and_the_batch_agree() -> None:
    model = small_model()
    profile = profiles().head(1)
    measures = [MEASURES["public_welfare_post"], MEASURES["dibao"]]
    single = what_if(model, profile, measures)
    (batch,) = what_if_batch(model, profile, [measures])
    assert single == batch
    with pytest.raises(ValueError, match="one household"):
        what_if(model, profiles().head(2), measures)


def test_added_wages_raise_income_and_keep_the_derived_features_consistent() -> None:
    rows = _with_income()
    changed = apply_effects(rows, [Income("wages", 6_000.0)])
    members = rows["members_count"].clip(lower=1)
    np.testing.assert_allclose(changed["income_pc_yuan"], rows["income_pc_yuan"] + 6_000.0 / members)
    np.testing.assert_allclose(changed["income_to_line"], changed["income_pc_yuan"] / rows["monitoring_line_yuan"])
    np.testing.assert_allclose(
        changed["income_pc_after_medical_yuan"], rows["income_pc_after_medical_yuan"] + 6_000.0 / members
    )
    # Shares and the production-cost ratio have no policy direction: they keep the household's value.
    pd.testing.assert_frame_equal(
        changed[[*SHARES, "safety_net_share", "production_cost_ratio"]],
        rows[[*SHARES, "safety_net_share", "production_cost_ratio"]],
    )
    ratios = ("oop_to_income_12m", "disaster_loss_to_income_12m")
    untouched = [c for c in rows.columns if not c.startswith("income") and c not in ratios]
    pd.testing.assert_frame_equal(changed[untouched], rows[untouched])


def test_dibao_is_a_safety_net_transfer_and_a_status() -> None:
    rows = _with_income()
    changed = apply_measure(rows, MEASURES["dibao"])
    members = rows["members_count"].clip(lower=1)
    np.testing.assert_allclose(changed["income_pc_yuan"], rows["income_pc_yuan"] + 3_600.0)  # per member
    assert (changed["dibao_active"] == 1).all()
    pd.testing.assert_series_equal(changed["safety_net_share"], rows["safety_net_share"])
    assert (changed["active_measures_count"] == rows["active_measures_count"] + 1).all()
    assert (members > 0).all()


def test_medical_assistance_lowers_out_of_pocket_cost_and_raises_income_after_medical() -> None:
    rows = _with_income()
    changed = apply_measure(rows, MEASURES["medical_assistance"])
    for name in ("hospital_oop_12m_yuan", "medical_oop_last_year_yuan", "max_stay_oop_12m_yuan"):
        np.testing.assert_allclose(changed[name], rows[name] * 0.4)
    saved = (rows["medical_oop_last_year_yuan"].fillna(0) * 0.6) / rows["members_count"].clip(lower=1)
    np.testing.assert_allclose(changed["income_pc_after_medical_yuan"], rows["income_pc_after_medical_yuan"] + saved)
    paid = rows["hospital_oop_12m_yuan"] > 0
    np.testing.assert_allclose(changed.loc[paid, "oop_to_income_12m"], rows.loc[paid, "oop_to_income_12m"] * 0.4)
    pd.testing.assert_series_equal(changed["income_pc_yuan"], rows["income_pc_yuan"])


def test_housing_and_water_measures_fix_the_guarantee() -> None:
    rows = profiles().head(20).assign(housing_unsafe=1.0, housing_grade_level=4.0, water_unsafe=1.0)
    house = apply_measure(rows, MEASURES["housing_renovation"])
    assert (house["housing_unsafe"] == 0).all() and (house["housing_grade_level"] == 2).all()
    water = apply_measure(rows, MEASURES["water_project"])
    assert (water["water_unsafe"] == 0).all() and (water["water_problems_count"] == 0).all()


def test_unknown_income_stays_unknown() -> None:
    rows = profiles().head(5).assign(income_pc_yuan=np.nan, income_to_line=np.nan, wage_share=np.nan)
    changed = apply_measure(rows, MEASURES["public_welfare_post"])
    assert changed["income_pc_yuan"].isna().all() and changed["income_to_line"].isna().all()
    assert (changed["public_welfare_post_active"] == 1).all()


def test_every_measure_applies_without_error_and_leaves_the_input_alone() -> None:
    rows = profiles().head(30)
    copy = rows.copy()
    for measure in MEASURE_LIST:
        changed = apply_measure(rows, measure)
        assert list(changed.columns) == list(rows.columns) and len(changed) == len(rows)
    pd.testing.assert_frame_equal(rows, copy)


def test_the_income_floor_matches_the_profile_builder() -> None:
    assert INCOME_FLOOR_YUAN == PROFILE_FLOOR


def test_the_fast_nan_to_num_is_numpys() -> None:
    from models.whatif import _nan_to_num

    rng = np.random.default_rng(3)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e308, -1e308, 5e-324, np.finfo(np.float64).max])
    for size in (1, 2, 5, 40):
        values = rng.choice(np.concatenate([special, rng.normal(0, 1e4, 20)]), size=size)
        for nan in (0.0, 1.0):
            got, expected = _nan_to_num(values, nan=nan), np.nan_to_num(values, nan=nan)
            np.testing.assert_array_equal(got, expected)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
            assert got.dtype == expected.dtype and got is not values
