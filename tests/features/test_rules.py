"""Official-rule flags, the rule score and the (year, province) reference tables, with hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.monitoring_lines import (
    DEFAULT_MONITORING_LINES,
    DEFAULT_RURAL_INCOME_PRIOR_YEAR,
    YearProvinceTable,
    default_monitoring_lines,
)
from features.rules import (
    RULE_NAMES,
    RULES,
    RuleConfig,
    describe_flags,
    rank_by_rules,
    rule_flags,
    rule_flags_row,
    rule_scores,
)
from features.simulation.config import CityConfig

NAN = np.nan


def _profile(**values: float) -> dict[str, object]:
    """A profile row with nothing alarming; keyword arguments override."""
    row: dict[str, object] = {
        "household_id": "H",
        "as_of": pd.Timestamp("2024-01-01"),
        "province_code": "99",
        "income_to_line": 3.0,
        "poverty_alleviated": 0.0,
        "under_monitoring": 0.0,
        "income_pc_change_1y": 0.05,
        "max_stay_oop_12m_yuan": 0.0,
        "hospital_oop_12m_yuan": 0.0,
        "medical_oop_last_year_yuan": 0.0,
        "children_out_of_school_count": 0,
        "dropouts_12m": 0,
        "uninsured_count": 0,
        "housing_unsafe": 0.0,
        "water_unsafe": 0.0,
        "no_labour_household": 0.0,
    }
    row.update(values)
    return row


def _flags(**values: float) -> pd.Series:
    return rule_flags(pd.DataFrame([_profile(**values)])).iloc[0]


def test_a_comfortable_household_raises_no_flag() -> None:
    assert not _flags().any()


# (overrides, the flag that must be raised, or None when none may be)
CASES = [
    ({"income_to_line": 0.99}, "income_below_line"),
    ({"income_to_line": 1.0}, "income_near_line"),  # exactly on the line is not below it
    ({"income_to_line": 1.49}, "income_near_line"),
    ({"income_to_line": 1.5}, None),
    ({"income_to_line": NAN}, None),  # unknown income is not evidence
    ({"income_pc_change_1y": -0.5}, "income_sharp_drop"),
    ({"income_pc_change_1y": -0.49}, None),
    # Single stay: > 6,000 for poverty-alleviated or monitored households, > 10,000 for others.
    ({"max_stay_oop_12m_yuan": 6_001, "poverty_alleviated": 1.0}, "rigid_medical_single_stay"),
    ({"max_stay_oop_12m_yuan": 6_001, "under_monitoring": 1.0}, "rigid_medical_single_stay"),
    ({"max_stay_oop_12m_yuan": 6_001}, None),
    ({"max_stay_oop_12m_yuan": 10_000}, None),
    ({"max_stay_oop_12m_yuan": 10_001}, "rigid_medical_single_stay"),
    # Yearly: > 50 % (poverty-alleviated) / 100 % (others) of 14,700 (the 2023 expenditure year's reference).
    ({"hospital_oop_12m_yuan": 7_351, "poverty_alleviated": 1.0}, "rigid_medical_yearly"),
    ({"medical_oop_last_year_yuan": 7_351, "poverty_alleviated": 1.0}, "rigid_medical_yearly"),
    ({"hospital_oop_12m_yuan": 7_350, "poverty_alleviated": 1.0}, None),
    ({"hospital_oop_12m_yuan": 14_701}, "rigid_medical_yearly"),
    ({"hospital_oop_12m_yuan": 14_700}, None),
    ({"children_out_of_school_count": 1}, "child_out_of_school"),
    ({"dropouts_12m": 1}, "child_out_of_school"),
    ({"uninsured_count": 2}, "uninsured_member"),
    ({"housing_unsafe": 1.0}, "housing_unsafe"),
    ({"housing_unsafe": NAN}, None),
    ({"water_unsafe": 1.0}, "water_unsafe"),
    ({"no_labour_household": 1.0}, "no_labour_household"),
]


@pytest.mark.parametrize(("overrides", "flag"), CASES)
def test_each_flag_at_its_threshold(overrides: dict[str, float], flag: str | None) -> None:
    raised = set(_flags(**overrides)[lambda s: s].index)
    assert raised == ({flag} if flag else set())


@pytest.mark.parametrize(("overrides", "flag"), CASES)
def test_the_one_profile_path_raises_the_same_flag_at_each_threshold(
    overrides: dict[str, float], flag: str | None
) -> None:
    flags = rule_flags_row(_profile(**overrides))
    assert list(flags) == list(RULE_NAMES)
    assert {name for name, raised in flags.items() if raised} == ({flag} if flag else set())


def _random_profiles(seed: int, n: int) -> pd.DataFrame:
    """Profiles around every threshold, with missing values of each kind a profile frame holds."""
    rng = np.random.default_rng(seed)

    def around(values: list[float], missing: float = 0.15) -> np.ndarray:
        x = rng.choice(values, n) + rng.choice([-1.0, -0.01, 0.0, 0.01, 1.0], n)
        return np.where(rng.random(n) < missing, NAN, x)

    frame = pd.DataFrame(
        {
            "household_id": [f"H{i}" for i in range(n)],
            "as_of": pd.to_datetime(rng.choice(["2019-01-01", "2021-07-15", "2024-01-01", "2031-03-01"], n)),
            "province_code": rng.choice(np.array(["99", "61", "11", None], dtype=object), n),
            "income_to_line": around([0.0, 1.0, 1.5, 3.0]),
            "poverty_alleviated": np.where(rng.random(n) < 0.1, NAN, rng.integers(0, 2, n).astype(float)),
            "under_monitoring": np.where(rng.random(n) < 0.1, NAN, rng.integers(0, 2, n).astype(float)),
            "income_pc_change_1y": around([-0.5, 0.0]),
            "max_stay_oop_12m_yuan": around([6_000.0, 10_000.0]),
            "hospital_oop_12m_yuan": around([0.0, 7_350.0, 14_700.0, 20_000.0], missing=0.3),
            "medical_oop_last_year_yuan": around([0.0, 7_350.0, 14_700.0], missing=0.3),
            "children_out_of_school_count": pd.array(rng.integers(0, 2, n), dtype="Int64"),
            "dropouts_12m": rng.integers(0, 2, n),
            "uninsured_count": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 3, n)), dtype="Int64"),
            "housing_unsafe": np.where(rng.random(n) < 0.2, NAN, rng.integers(0, 2, n).astype(float)),
            "water_unsafe": rng.integers(0, 2, n).astype(float),
            "no_labour_household": rng.integers(0, 2, n).astype(float),
        }
    )
    frame.loc[rng.random(n) < 0.05, "as_of"] = pd.NaT
    return frame


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_one_profile_path_equals_the_frame_path_on_random_profiles(seed: int) -> None:
    frame = _random_profiles(seed, 400)
    config = RuleConfig(rural_incomes=RuleConfig().rural_incomes.with_values("61", {2023: 11_000.0}))
    for rules in (None, config):
        expected = rule_flags(frame, rules)
        rows = [dict(zip(frame.columns, row, strict=True)) for row in frame.itertuples(index=False)]
        got = pd.DataFrame([rule_flags_row(row, rules) for row in rows])
        pd.testing.assert_frame_equal(got, expected.reset_index(drop=True))
        assert expected.to_numpy().any(axis=0).all()  # every flag is raised somewhere: the cases cover each rule


def test_the_one_profile_path_equals_the_frame_path_on_built_profiles(city_profiles: pd.DataFrame) -> None:
    expected = rule_flags(city_profiles)
    got = [rule_flags_row(city_profiles.iloc[i]) for i in range(len(city_profiles))]
    assert pd.DataFrame(got, index=city_profiles.index).equals(expected)


def test_the_one_profile_path_refuses_a_profile_without_a_rule_column() -> None:
    profile = _profile()
    del profile["uninsured_count"]
    with pytest.raises(KeyError, match="uninsured_count"):
        rule_flags(pd.DataFrame([profile]))
    with pytest.raises(KeyError, match="uninsured_count"):
        rule_flags_row(profile)


def test_thresholds_are_configurable() -> None:
    frame = pd.DataFrame([_profile(income_to_line=1.05, max_stay_oop_12m_yuan=8_000)])
    default = rule_flags(frame).iloc[0]
    assert not default["income_below_line"] and not default["rigid_medical_single_stay"]
    strict = RuleConfig(income_line_multiple=1.1, single_stay_oop_other_yuan=7_500)
    flags = rule_flags(frame, strict).iloc[0]
    assert flags["income_below_line"] and flags["rigid_medical_single_stay"]


def test_provincial_rural_income_table_is_used() -> None:
    frame = pd.DataFrame([_profile(hospital_oop_12m_yuan=12_000, province_code="61")])
    assert not rule_flags(frame).iloc[0]["rigid_medical_yearly"]
    config = RuleConfig(rural_incomes=RuleConfig().rural_incomes.with_values("61", {2023: 11_000.0}))
    assert rule_flags(frame, config).iloc[0]["rigid_medical_yearly"]


def test_score_is_weighted_flags_plus_an_income_tie_break() -> None:
    frame = pd.DataFrame(
        [
            _profile(household_id="A", income_to_line=0.5),  # below line: 3 points
            _profile(household_id="B", income_to_line=0.9),  # below line: 3 points, higher income
            _profile(household_id="C", income_to_line=2.0, housing_unsafe=1.0, water_unsafe=1.0),  # 2 points
            _profile(household_id="D", income_to_line=NAN),  # nothing known
        ]
    )
    scores = rule_scores(frame)
    assert scores.tolist() == pytest.approx([3 + 0.999 / 1.5, 3 + 0.999 / 1.9, 2 + 0.999 / 3.0, 0.0])
    ranked = rank_by_rules(frame)
    assert ranked["household_id"].tolist() == ["A", "B", "C", "D"]
    assert ranked["rule_rank"].tolist() == [1, 2, 3, 4]
    assert list(ranked.columns[3:]) == list(RULE_NAMES)


def test_flags_read_as_display_texts() -> None:
    flags = _flags(income_to_line=0.5, housing_unsafe=1.0)
    assert describe_flags(flags) == ["人均纯收入低于监测线", "住房为C/D级危房"]
    assert describe_flags(flags, "en") == ["per-capita net income below the monitoring line", "house rated C/D"]


def test_every_rule_cites_domain_and_has_a_weight() -> None:
    for rule in RULES:
        assert rule.source.startswith("docs/domain.md §"), rule.name
        assert rule.weight >= 1


def test_rules_on_the_city_rank_identified_households_higher(city_profiles: pd.DataFrame) -> None:
    flags = rule_flags(city_profiles)
    assert 0.01 < flags["income_below_line"].mean() < 0.2
    scores = rule_scores(city_profiles)
    monitored = city_profiles["under_monitoring"] == 1
    assert scores[monitored].mean() > 2 * scores[~monitored].mean()


# --- monitoring lines and rural incomes -----------------------------------------------------------------


def test_lines_fall_back_to_national_values_and_nearest_years() -> None:
    lines = default_monitoring_lines().with_values("61", {2023: 7_600.0})
    assert lines.value(2023, "61") == 7_600
    assert lines.value(2024, "61") == 7_000  # no provincial value for 2024: national
    assert lines.value(2023, "99") == 6_600  # the demo province uses the national values
    assert lines.value(2030) == 7_300 and lines.value(2010) == 5_800
    got = lines.lookup(np.array([2023.0, 2023.0, NAN]), np.array(["61", None, "99"], dtype=object))
    np.testing.assert_array_equal(got, [7_600, 6_600, NAN])


def test_an_empty_table_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one year"):
        YearProvinceTable("x", {})


def test_defaults_agree_with_the_synthetic_city() -> None:
    """The generator identifies households by the same lines and rigid-expenditure references."""
    config = CityConfig()
    assert config.monitoring_lines == DEFAULT_MONITORING_LINES
    assert config.rural_income_prior_year == DEFAULT_RURAL_INCOME_PRIOR_YEAR
    assert config.single_stay_oop_poverty_alleviated_yuan == RuleConfig().single_stay_oop_protected_yuan
    assert config.single_stay_oop_other_yuan == RuleConfig().single_stay_oop_other_yuan
