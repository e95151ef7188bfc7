"""The feature catalogue is complete, consistent with the builder, and its documents are up to date."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pandas as pd
import pytest

from features.contract.tables import TABLES, codes
from features.profiles.catalogue import (
    FEATURE_NAMES,
    FEATURES,
    GROUPS,
    META_COLUMNS,
    feature,
    format_reason,
    monotone_constraints,
)
from features.profiles.docs import render_features, render_profiles

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_names_are_unique_snake_case_and_not_meta() -> None:
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES))
    allowed = set(string.ascii_lowercase + string.digits + "_")
    for name in FEATURE_NAMES:
        assert set(name) <= allowed, name
        assert name not in META_COLUMNS


def test_groups_map_to_official_risk_types_or_named_groups() -> None:
    for group in GROUPS.values():
        if group.risk_type is not None:
            assert any(code.startswith(group.risk_type) for code in codes.RISK_TYPES), group
    for item in FEATURES:
        assert item.group in GROUPS, item.name
    assert feature("hospital_oop_12m_yuan").risk_type == "01"
    assert feature("disaster_loss_12m_yuan").risk_type == "02"
    assert feature("housing_unsafe").risk_type is None


@pytest.mark.parametrize("item", FEATURES, ids=FEATURE_NAMES)
def test_each_entry_is_complete(item) -> None:  # type: ignore[no-untyped-def]
    assert item.kind in ("number", "count", "flag", "category")
    assert item.direction in (-1, 0, 1)
    assert item.sources and set(item.sources) <= set(TABLES)
    assert item.window and item.zh and item.en and item.reason_zh and item.reason_en
    assert (item.kind == "category") == bool(item.categories)
    if item.unit == "yuan":
        assert item.name.endswith("_yuan"), "money is named with _yuan (docs/contributing.md)"
    # Reasons quote the household's own value wherever there is a value to quote.
    if item.kind in ("number", "count"):
        assert "{value" in item.reason_zh and "{value" in item.reason_en, item.name
    sample = "general" if item.kind == "category" else 1.0
    assert format_reason(item.name, sample, "zh") and format_reason(item.name, sample, "en")


def test_reasons_quote_values_with_units() -> None:
    assert format_reason("hospital_oop_12m_yuan", 12_345.6) == "近12个月住院自付 12,346 元"
    assert format_reason("income_to_line", 0.8, "en") == "income is 0.80 × the monitoring line"
    # a count of one reads in the singular in English; other counts, and Chinese, as written
    assert format_reason("chronic_count", 1, "en") == "1 member with chronic illness"
    assert format_reason("chronic_count", 2, "en") == "2 members with chronic illness"
    assert format_reason("chronic_count", 21, "en") == "21 members with chronic illness"
    assert format_reason("business_failures_12m", 1, "en") == "1 business failure in 12 months"
    assert format_reason("identifications_count", 1, "en") == "identified 1 time before"
    assert format_reason("chronic_count", 1, "zh") == "长期慢性病患者 1 人"
    assert format_reason("income_pc_change_1y", -0.42) == "人均纯收入较前一年变化 -42%"
    assert format_reason("village_type", "former_poor") == "所在村为脱贫村"
    assert (
        format_reason("income_pc_yuan", float("nan"), "en") == "per-capita net income of the last income year: missing"
    )


def test_an_income_below_zero_after_medical_costs_says_the_costs_exceed_it() -> None:
    assert format_reason("income_after_medical_to_line", -7.83) == "医疗自付超过家庭纯收入"
    assert format_reason("income_after_medical_to_line", 0.0) == "扣除医疗自付后收入为监测线的 0.00 倍"
    assert format_reason("income_pc_after_medical_yuan", -3_210.4, "en") == (
        "income after medical costs below zero (-3,210 yuan per person)"
    )
    assert format_reason("income_pc_after_medical_yuan", 5_000.0) == "扣除医疗自付后人均收入 5,000 元"


@pytest.mark.parametrize(
    ("name", "value", "lang", "sentence"),
    [
        ("head_education_level", 0.0, "zh", "户主文化程度：文盲或半文盲"),
        ("head_education_level", 1.0, "zh", "户主文化程度：小学"),
        ("max_adult_education_level", 4.0, "zh", "成年人最高文化程度：中专/中职"),
        ("max_adult_education_level", 6.0, "en", "highest education among adults: bachelor or above"),
        ("housing_grade_level", 3.0, "zh", "房屋安全等级为C级"),
        ("housing_grade_level", 1.0, "en", "house rated A (safe)"),
        ("head_male", 1.0, "zh", "户主为男性"),
        ("head_male", 0.0, "zh", "户主为女性"),
        ("dibao_active", 0.0, "en", "no dibao"),
        ("no_labour_household", 0.0, "zh", "家中有劳动力"),
        ("income_pc_yuan", float("nan"), "zh", "上年人均纯收入：缺失"),
    ],
)
def test_values_are_printed_as_people_read_them(name: str, value: float, lang: str, sentence: str) -> None:
    assert format_reason(name, value, lang) == sentence  # type: ignore[arg-type]


def test_every_flag_says_what_its_zero_means_and_zh_reasons_use_full_width_punctuation() -> None:
    for item in FEATURES:
        if item.kind == "flag":
            assert format_reason(item.name, 0.0) != format_reason(item.name, 1.0), item.name
        for value in (0.0, 1.0, 2.5, float("nan")):
            text = format_reason(item.name, value if item.kind != "category" else "general", "zh")
            assert not re.search(r"[,:;()]", re.sub(r"(?<=\d),(?=\d)", "", text)), (item.name, text)
            assert "等级 " not in text, text


def test_policy_directions() -> None:
    """More out-of-pocket cost never lowers risk; more income never raises it (docs/domain.md §2–§3)."""
    assert feature("hospital_oop_12m_yuan").direction == 1
    assert feature("income_pc_yuan").direction == -1
    assert feature("housing_unsafe").direction == 1
    assert monotone_constraints(["income_to_line", "water_unsafe", "head_age"]) == [-1, 1, 0]
    assert len(monotone_constraints()) == len(FEATURES)


def test_builder_output_matches_the_catalogue(city_profiles: pd.DataFrame) -> None:
    assert list(city_profiles.columns) == [*META_COLUMNS, *FEATURE_NAMES]
    assert len(city_profiles) == city_profiles["household_id"].nunique()
    for item in FEATURES:
        column = city_profiles[item.name]
        if item.kind == "count":
            assert (column >= 0).all(), item.name
        if item.kind == "flag":
            assert set(column.dropna().unique()) <= {0.0, 1.0}, item.name
        if not item.missing:
            assert column.notna().all(), f"{item.name} is documented as never missing"


@pytest.mark.parametrize(("name", "render"), [("features.md", render_features), ("profiles.md", render_profiles)])
def test_generated_docs_are_up_to_date(name: str, render) -> None:  # type: ignore[no-untyped-def]
    assert (DOCS / name).read_text(encoding="utf-8") == render(), "run `relapse features docs`"
