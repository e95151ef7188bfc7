"""The feature catalogue is complete, consistent with the builder, and its documents are up to date."""

from __future__ import annotations

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
    assert format_reason("income_pc_change_1y", -0.42) == "人均纯收入较前一年变化 -42%"
    assert format_reason("village_type", "former_poor") == "所在村为脱贫村"
    assert (
        format_reason("income_pc_yuan", float("nan"), "en") == "per-capita net income of the last income year: missing"
    )


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
