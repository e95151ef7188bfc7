"""Measures: the table is consistent data, proposals follow docs/domain.md §4, the docs are generated from it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.contract import codes
from features.profiles.catalogue import BY_NAME, GROUPS
from models.explain import explain_households
from models.measure_table import BY_RISK, CATEGORIES, MEASURE_LIST, MEASURES, RISK_MEASURES, Change, Income
from models.measures import DOC_PATH, applies, has_labour, propose_measures, receives, render_measures_doc
from tests.models.explain_fixtures import explainer, profiles, small_model

ROOT = Path(__file__).resolve().parents[2]
SAFETY_NET = {"dibao", "tekun"}


def _profile(**values: float) -> pd.Series:
    base = {
        "no_labour_household": 0.0,
        "labour_capable_count": 2.0,
        "dibao_active": 0.0,
        "tekun_active": 0.0,
        "public_welfare_post_active": 0.0,
        "disability_subsidy_active": 0.0,
        "medical_assistance_12m_yuan": 0.0,
        "temporary_assistance_12m": 0.0,
        "hospital_oop_12m_yuan": 12_000.0,
        "medical_oop_last_year_yuan": 8_000.0,
        "chronic_count": 1.0,
        "disabled_count": 1.0,
        "land_area_mu": 4.0,
        "housing_unsafe": 1.0,
        "uninsured_count": 0.0,
    }
    base.update(values)
    return pd.Series(base)


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
        for condition in (*m.applies_when, *([m.received_when] if m.received_when else [])):
            assert condition.feature in BY_NAME, condition
        assert m.basis
    for entry in RISK_MEASURES:
        assert entry.key in coded | groups_without_code
        assert set(entry.with_labour) | set(entry.without_labour) <= set(MEASURES)
    assert {"01", "02", "03", "04", "05", "06", "07", "09", "housing", "water", "insurance"} <= set(BY_RISK)


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
    profile = _profile(no_labour_household=1.0, labour_capable_count=0.0, dibao_active=1.0)
    (first,) = propose_measures(profile, ["04"], per_reason=1)
    assert first.measure == "tekun" and first.replaces == ("dibao",) and first.risks == ("04",)
    both = _profile(no_labour_household=1.0, labour_capable_count=0.0, dibao_active=1.0, tekun_active=1.0)
    assert [p.measure for p in propose_measures(both, ["04"], per_reason=1)] == ["asset_dividend"]
    post = propose_measures(_profile(public_welfare_post_active=1.0), ["04"], per_reason=1)
    assert [p.measure for p in post] == ["assistance_workshop"]


def test_combined_risks_get_combined_measures_each_naming_its_risks() -> None:
    proposals = propose_measures(_profile(), ["01", "housing", "05"], per_reason=2)
    by_code = {p.measure: p for p in proposals}
    assert by_code["housing_renovation"].risks == ("housing",) and by_code["housing_renovation"].category == "housing"
    assert by_code["medical_assistance"].risks == ("01", "05")  # proposed once for both
    assert [p.measure for p in proposals].count("medical_assistance") == 1
    assert all(p.category_zh and p.category_en and p.zh and p.en for p in proposals)


def test_measures_apply_only_where_the_profile_shows_their_object() -> None:
    profile = _profile(housing_unsafe=0.0, disabled_count=0.0)
    assert not propose_measures(profile, ["housing"])
    assert "disability_subsidy" not in [p.measure for p in propose_measures(profile, ["03"], per_reason=4)]
    assert not applies(_profile(housing_unsafe=float("nan")), MEASURES["housing_renovation"])


def test_reasons_without_measures_propose_nothing() -> None:
    assert propose_measures(_profile(), ["demographics", "monitoring", "context"]) == []


def test_labour_from_the_profile() -> None:
    assert has_labour(_profile())
    assert not has_labour(_profile(no_labour_household=1.0))
    assert not has_labour(pd.Series({"no_labour_household": float("nan"), "labour_capable_count": float("nan")}))


def test_explained_households_never_get_a_measure_they_receive() -> None:
    model = small_model()
    rows = profiles().head(300)
    result = explain_households(model, rows, explainer=explainer(model))
    proposed = 0
    for item, (_, row) in zip(result, rows.iterrows(), strict=True):
        reason_keys = {r.key for r in item.reasons}
        for p in item.measures:
            proposed += 1
            assert not receives(row, MEASURES[p.measure])
            assert set(p.risks) <= reason_keys
            if item.has_labour:
                assert p.measure not in SAFETY_NET
            else:
                assert p.family != "development"
    assert proposed > 100


def test_docs_are_up_to_date() -> None:
    assert (ROOT / DOC_PATH).read_text(encoding="utf-8") == render_measures_doc(), (
        "docs/measures.md is stale: run `python -m models.measures`"
    )
