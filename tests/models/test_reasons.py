"""Reasons: exact contributions → probability points by evidence-backed risk type or background, only
risk-raising, deterministic, own values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.profiles.catalogue import BY_NAME, format_reason
from features.profiles.evidence import evidence_keys, role
from models.calibration import IsotonicCalibrator, SigmoidCalibrator
from models.explain import explain_households
from models.reasons import (
    AdditivityError,
    Attribution,
    attribute,
    household_reasons,
    probability_points,
    reason_kind,
    reason_names,
    top_reasons,
    top_risk_types,
)
from tests.models.explain_fixtures import explainer, profiles, small_model

CALIBRATORS = ["sigmoid", "isotonic"]


@pytest.mark.parametrize("calibrator", CALIBRATORS)
def test_points_add_up_to_probability_minus_base_rate(calibrator: str) -> None:
    model = small_model(calibrator)
    rows = profiles().head(300)
    x = model.prepare(rows)
    att = attribute(x, model.feature_names, explainer(model), model.calibrator, model.margin(x))
    p = model.predict_proba(rows)
    base = float(model.calibrator.predict(np.array([att.expected_value]))[0])
    np.testing.assert_allclose(att.points.sum(axis=1), p - base, atol=1e-9, rtol=0)
    # and per household, through the reasons (every key) of the public entry point
    for item, p_i in zip(explain_households(model, rows.head(30), explainer=explainer(model)), p, strict=False):
        assert sum(r.points for r in item.all_reasons) == pytest.approx(p_i - item.base_probability, abs=1e-9)
        assert item.probability == pytest.approx(p_i, abs=1e-12)


@pytest.mark.parametrize(
    "calibrator",
    [SigmoidCalibrator(1.3, -0.5), IsotonicCalibrator((-4.0, -1.0, 0.0, 0.5, 2.0), (0.0, 0.1, 0.1, 0.3, 0.9))],
)
def test_points_are_additive_and_keep_the_sign_of_the_contribution(calibrator: object) -> None:
    rng = np.random.default_rng(5)
    phi = rng.normal(0, 0.8, (500, 12)) * (rng.random((500, 12)) < 0.6)
    b = -1.2
    points = probability_points(phi, b, calibrator)  # type: ignore[arg-type]
    g = calibrator.predict  # type: ignore[attr-defined]
    np.testing.assert_allclose(points.sum(axis=1), g(b + phi.sum(axis=1)) - g(np.array([b]))[0], atol=1e-12)
    assert (points[phi > 0] >= 0).all() and (points[phi < 0] <= 0).all() and (points[phi == 0] == 0).all()


def test_a_margin_the_contributions_miss_is_refused() -> None:
    model = small_model()
    x = model.prepare(profiles().head(5))

    class Off:
        expected_value = 0.0

        def shap_values(self, rows: np.ndarray) -> np.ndarray:
            return np.zeros((len(rows), rows.shape[1]))

    with pytest.raises(AdditivityError, match="miss the margin"):
        attribute(x, model.feature_names, Off(), model.calibrator, model.margin(x))


def test_reasons_are_evidenced_risk_types_with_their_facts_then_risk_raising_backgrounds() -> None:
    model = small_model()
    rows = profiles().head(200)
    result = explain_households(model, rows, top=3, explainer=explainer(model))
    seen = risk_types = 0
    for item, (_, row) in zip(result, rows.iterrows(), strict=True):
        shown = evidence_keys(row)
        assert len(item.reasons) <= 3
        for reason in item.reasons:
            seen += 1
            assert reason.kind != "data_quality" and reason.features
            if reason.kind == "background":  # a background only for what raises the estimate
                assert reason.points > 0 and all(f.shap > 0 for f in reason.features)
            else:  # a risk type or need: its raising features first, then its other facts (values other than 0)
                raising = [f.shap > 0 for f in reason.features]
                assert raising == sorted(raising, reverse=True)
                assert all(f.shap > 0 or float(f.value) != 0 for f in reason.features)
                assert reason.key in shown
            for f in reason.features:
                assert reason.key in {role(f.name).evidence, role(f.name).background, "05"}
            assert (reason.code is not None) == (reason.kind == "risk_type")
            assert (reason.zh, reason.en) == reason_names(reason.key)
        kinds = [r.kind for r in item.reasons]
        assert kinds == sorted(kinds, key=lambda k: k == "background")  # risk types and needs lead
        assert [r.key for r in item.risk_types] == [r.key for r in top_risk_types(item.all_reasons)]
        assert all(r.key in shown for r in item.risk_types)
        risk_types += len(item.risk_types)
    assert seen > 300 and risk_types > 100


@pytest.mark.parametrize(
    ("key", "kind", "names"),
    [
        ("02", "risk_type", ("因灾", "natural disaster")),
        ("04", "risk_type", ("缺劳动力", "lack of labour")),
        ("05", "risk_type", ("因意外事故", "accident")),
        ("housing", "need", ("住房安全", "unsafe housing")),
        ("income", "background", ("背景因素：收入水平", "background factor: income level")),
        ("work", "background", ("背景因素：务工与生产", "background factor: work and farming")),
        ("demographics", "background", ("背景因素：人口结构", "background factor: household composition")),
        (
            "data_quality",
            "data_quality",
            ("数据缺失或未采集（不计为原因）", "missing or unrecorded data (never a reason)"),
        ),
    ],
)
def test_reason_keys_have_a_kind_and_plain_names(key: str, kind: str, names: tuple[str, str]) -> None:
    assert reason_kind(key) == kind
    assert reason_names(key) == names


def test_identical_input_gives_identical_reasons_in_identical_order() -> None:
    model = small_model()
    rows = profiles().head(80)
    first = explain_households(model, rows, explainer=explainer(model))
    again = explain_households(model, rows, explainer=explainer(model))
    shuffled = rows.sample(frac=1.0, random_state=3)
    by_id = {e.household_id: e for e in explain_households(model, shuffled, explainer=explainer(model))}
    assert repr([e.to_dict() for e in first]) == repr([e.to_dict() for e in again])  # repr: NaN == NaN
    for item in first:
        other = by_id[item.household_id]
        assert [(r.key, r.points, r.sentence_zh) for r in item.reasons] == [
            (r.key, r.points, r.sentence_zh) for r in other.reasons
        ]
        order = {"risk_type": 0, "need": 0, "background": 1, "data_quality": 2}
        keys = [(order[r.kind], -r.points, -r.shap, r.key) for r in item.all_reasons]
        assert keys == sorted(keys)


def test_ties_are_broken_by_key() -> None:
    names = ("disabled_count", "hospital_stays_12m", "housing_unsafe")
    phi = np.array([[0.5, 0.5, 0.5]])
    att = Attribution(names, phi, phi * 0.1, -2.0, np.array([-0.5]), np.array([0.3]), 0.15)
    profile = pd.Series({"disabled_count": 1.0, "hospital_stays_12m": 2.0, "housing_unsafe": 1.0})
    assert [r.key for r in household_reasons(att, 0, profile)] == ["01", "03", "housing"]


def test_sentences_quote_the_households_own_values_from_the_catalogue_templates() -> None:
    model = small_model()
    rows = profiles().head(100)
    checked = 0
    for item, (_, row) in zip(
        explain_households(model, rows, explainer=explainer(model)), rows.iterrows(), strict=True
    ):
        for reason in item.reasons:
            for f in reason.features:
                assert f.value is row[f.name] or f.value == row[f.name] or pd.isna(row[f.name])
                value = float("nan") if pd.isna(row[f.name]) else row[f.name]
                assert format_reason(f.name, value, "zh") in (reason.sentence_zh or "")
                assert format_reason(f.name, value, "en") in (reason.sentence_en or "")
                if BY_NAME[f.name].unit == "yuan" and not pd.isna(row[f.name]):
                    assert f"{float(row[f.name]):,.0f}" in (reason.sentence_zh or "")
                    checked += 1
    assert checked > 0


def test_a_hand_made_profile_gets_its_values_with_units() -> None:
    names = ("hospital_oop_12m_yuan", "oop_to_income_12m", "income_to_line")
    phi = np.array([[1.0, 0.6, -0.2]])
    att = Attribution(names, phi, probability_points(phi, -3.0, SigmoidCalibrator(1.0, 0.0)), -3.0, np.array([-1.6]),
                      np.array([0.17]), 0.05)  # fmt: skip
    profile = pd.Series(
        {"hospital_oop_12m_yuan": 23_400.0, "oop_to_income_12m": 0.85, "income_to_line": 1.4, "hospital_stays_12m": 1}
    )
    reasons = top_reasons(household_reasons(att, 0, profile), 3)
    assert [r.key for r in reasons] == ["01"]
    assert reasons[0].sentence_zh == "近12个月住院自付 23,400 元；住院自付相当于家庭纯收入的 85%"
    assert reasons[0].sentence_en == (
        "23,400 yuan out of pocket for hospital stays in 12 months; hospital costs equal 85% of household net income"
    )


def test_lang_selects_the_sentences() -> None:
    model = small_model()
    (item,) = explain_households(model, profiles().head(1), lang="en", explainer=explainer(model))
    assert item.reasons and all(r.sentence_zh is None and r.sentence_en for r in item.reasons)


@pytest.mark.slow
def test_the_fast_explainer_gives_the_same_reasons() -> None:
    model = small_model()
    rows = profiles().head(50)
    fast = explain_households(model, rows)
    reference = explain_households(model, rows, explainer=explainer(model))
    for a, b in zip(fast, reference, strict=True):
        assert [r.key for r in a.reasons] == [r.key for r in b.reasons]
        np.testing.assert_allclose([r.points for r in a.all_reasons], [r.points for r in b.all_reasons], atol=1e-9)
