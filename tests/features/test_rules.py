"""Official-rule flags, the rule score and the (year, province) reference tables, with hand-computed cases."""

from __future__ import annotations

import math
import operator
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract.monitoring_lines import (
    DEFAULT_MONITORING_LINES,
    DEFAULT_RURAL_INCOME_PRIOR_YEAR,
    YearProvinceTable,
    default_monitoring_lines,
)
from features.profiles.rules import (
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


# The hand-computed cases hold for both evaluations: the frame (`rule_flags`) and one profile (`rule_flags_row`).
PATHS = pytest.mark.parametrize("path", ["frame", "row"])


def _evaluate(path: str, profile: dict[str, object], config: RuleConfig | None = None) -> dict[str, bool]:
    if path == "row":
        return rule_flags_row(profile, config)
    return {str(k): bool(v) for k, v in rule_flags(pd.DataFrame([profile]), config).iloc[0].items()}


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
@PATHS
def test_each_flag_at_its_threshold(path: str, overrides: dict[str, float], flag: str | None) -> None:
    raised = {name for name, value in _evaluate(path, _profile(**overrides)).items() if value}
    assert raised == ({flag} if flag else set())


# --- the two evaluations of the one declaration agree ------------------------------------------------------

_READ = tuple(dict.fromkeys(column for rule in RULES for column in rule.columns))
_NUMERIC = tuple(c for c in _READ if c not in ("as_of", "province_code"))
_PROVINCES = ["99", "61", "11", None]
_MISSING = st.sampled_from([None, NAN, pd.NA])
_CONFIGS = st.builds(
    RuleConfig,
    income_line_multiple=st.sampled_from([1.0, 1.2]),
    near_line_multiple=st.sampled_from([1.5, 1.1]),  # 1.1 < 1.2: an empty band
    sharp_drop=st.sampled_from([0.5, 0.3]),
    single_stay_oop_protected_yuan=st.sampled_from([6_000.0, 3_000.0]),
    single_stay_oop_other_yuan=st.sampled_from([10_000.0, 5_000.0]),
    yearly_oop_share_alleviated=st.sampled_from([0.5, 0.2]),
    yearly_oop_share_other=st.sampled_from([1.0, 0.4]),
    # Province 61 publishes some years of its own; the others fall back to the national values.
    rural_incomes=st.sampled_from(
        [
            RuleConfig().rural_incomes,
            RuleConfig().rural_incomes.with_values("61", {2019: 9_000.0, 2023: 11_000.0, 2025: 13_000.0}),
        ]
    ),
)


def _near(x: float) -> st.SearchStrategy[float]:
    """`x`, the floats just beside it, or a unit off."""
    return st.sampled_from([x, float(np.nextafter(x, -np.inf)), float(np.nextafter(x, np.inf)), x - 1, x + 1])


def _boundaries(config: RuleConfig, as_of: pd.Timestamp | None, province: str | None) -> st.SearchStrategy[float]:
    """Values on or beside a threshold a rule can meet under `config` for one household.

    The thresholds: 0, 1, each setting and its negation, and each setting times the rural income reference
    of as_of's year or the year before, in the household's province or nationally: a value between two of
    these tells which one a path read.
    """
    settings_ = [v for f in fields(config) if isinstance(v := getattr(config, f.name), float)]
    plain = st.sampled_from([0.0, 1.0, *settings_, *(-v for v in settings_)])
    if as_of is None:
        return plain.flatmap(_near)
    incomes = [config.rural_incomes.value(y, p) for y in (as_of.year - 1, as_of.year) for p in (province, None)]
    shares = st.builds(operator.mul, st.sampled_from(settings_), st.sampled_from(incomes))
    return (plain | shares).flatmap(_near)


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


@st.composite
def _profiles(draw: st.DrawFn) -> tuple[RuleConfig | None, pd.DataFrame, list[dict[str, Any]]]:
    """A profile table in the dtypes a profile frame holds, and the same rows as an API client sends them.

    Numbers sit on or just beside a threshold of the household (`_boundaries`) or anywhere, or are missing
    as None, NaN or pd.NA; as_of, naive or in a time zone, is a timestamp, ISO text or a date.
    """
    config = draw(st.none() | _CONFIGS)
    n = draw(st.integers(1, 6))
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    columns: dict[str, Any] = {}

    def cells(values: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(values, min_size=n, max_size=n))

    zone = draw(st.sampled_from([None, "Asia/Shanghai", "UTC"]))
    form = draw(st.sampled_from(["timestamp", "text", "date"])) if zone is None else "timestamp"
    # Around New Year, where the expenditure year (that of the day before as_of) is not as_of's, and mid-year.
    days = [(1, 1, 0), (1, 1, 16), (1, 2, 0), (12, 31, 23), (7, 15, 8)]
    years = st.sampled_from(range(2020, 2028))  # the expenditure years the income table holds
    moment = st.builds(lambda year, day: pd.Timestamp(year, *day), years, st.sampled_from(days))
    stamps = cells(st.none() | moment.map(lambda t: t.tz_localize(zone) if zone else t))
    if form == "text":
        raw_as_of: list[Any] = [None if t is None else t.isoformat() for t in stamps]
    elif form == "date":
        raw_as_of = [None if t is None else t.date() for t in stamps]
    else:
        raw_as_of = [draw(st.sampled_from([None, pd.NaT])) if t is None else t for t in stamps]
    columns["as_of"] = pd.to_datetime(pd.Series(raw_as_of, dtype=object))
    provinces = cells(st.sampled_from(_PROVINCES))
    columns["province_code"] = pd.Series(provinces, dtype=draw(st.sampled_from([object, "string", "str"])))
    for row, as_of, province in zip(rows, raw_as_of, provinces, strict=True):
        row["as_of"], row["province_code"] = as_of, province

    near = [_boundaries(config or RuleConfig(), t, p) for t, p in zip(stamps, provinces, strict=True)]
    for name in _NUMERIC:
        dtype = draw(st.sampled_from(["float64", "Int64", "int64"]))
        if dtype == "float64":
            raw = [draw(_MISSING | boundary | st.floats()) for boundary in near]
            columns[name] = pd.Series([NAN if _is_missing(v) else v for v in raw], dtype="float64")
        elif dtype == "Int64":
            raw = [draw(_MISSING | st.integers(-2, 3) | boundary.map(math.floor)) for boundary in near]
            columns[name] = pd.array([None if _is_missing(v) else v for v in raw], dtype="Int64")
        else:
            raw = [draw(st.integers(-2, 3) | boundary.map(math.floor)) for boundary in near]
            columns[name] = np.array(raw, dtype=np.int64)
        for row, value in zip(rows, raw, strict=True):
            row[name] = value
    return config, pd.DataFrame(columns), rows


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=_profiles())
def test_the_one_profile_path_equals_the_frame_path(
    drawn: tuple[RuleConfig | None, pd.DataFrame, list[dict[str, Any]]],
) -> None:
    """Both evaluations of the declaration: the same flags, as bool, in the same order, for any profile.

    Rows are read as an API client sends them, as the service reads a frame's row (object values) and as
    a pandas row.
    """
    config, frame, sent = drawn
    expected = rule_flags(frame, config)
    assert list(expected.columns) == list(RULE_NAMES)
    assert set(expected.dtypes) == {np.dtype(bool)}
    assert expected.index.equals(frame.index)
    as_objects = [
        dict(zip(frame.columns, frame.iloc[i].to_numpy(dtype=object), strict=True)) for i in range(len(frame))
    ]
    pandas_rows = [frame.iloc[i] for i in range(len(frame))]
    for rows in (sent, as_objects, pandas_rows):
        got = [rule_flags_row(row, config) for row in rows]
        assert all(list(flags) == list(RULE_NAMES) for flags in got)
        assert all(type(raised) is bool for flags in got for raised in flags.values())
        assert got == expected.to_dict("records")


@PATHS
def test_the_expenditure_year_is_read_in_the_as_of_time_zone(path: str) -> None:
    """Equal instants in two zones: the day before 2024-01-02 00:00 in Beijing is in 2024, in UTC in 2023."""
    beijing = pd.Timestamp("2024-01-02 00:00", tz="Asia/Shanghai")
    utc = beijing.tz_convert("UTC")  # 2024-01-01 16:00
    # 15,000 exceeds the 2023 expenditure year's 14,700 but not the 2024 year's 15,600.
    flags = [_evaluate(path, _profile(as_of=t, hospital_oop_12m_yuan=15_000)) for t in (beijing, utc, beijing)]
    assert [f["rigid_medical_yearly"] for f in flags] == [False, True, False]


@pytest.mark.parametrize("column", _READ)
def test_both_paths_refuse_a_profile_without_a_column_a_rule_reads(column: str) -> None:
    profile = _profile()
    del profile[column]
    with pytest.raises(KeyError, match=column):
        rule_flags(pd.DataFrame([profile]))
    with pytest.raises(KeyError, match=column):
        rule_flags_row(profile)


@PATHS
def test_thresholds_are_configurable(path: str) -> None:
    profile = _profile(income_to_line=1.05, max_stay_oop_12m_yuan=8_000)
    default = _evaluate(path, profile)
    assert not default["income_below_line"] and not default["rigid_medical_single_stay"]
    strict = RuleConfig(income_line_multiple=1.1, single_stay_oop_other_yuan=7_500)
    flags = _evaluate(path, profile, strict)
    assert flags["income_below_line"] and flags["rigid_medical_single_stay"]


@PATHS
def test_provincial_rural_income_table_is_used(path: str) -> None:
    profile = _profile(hospital_oop_12m_yuan=12_000, province_code="61")
    assert not _evaluate(path, profile)["rigid_medical_yearly"]
    config = RuleConfig(rural_incomes=RuleConfig().rural_incomes.with_values("61", {2023: 11_000.0}))
    assert _evaluate(path, profile, config)["rigid_medical_yearly"]


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


def test_every_rule_reads_profile_columns_and_config_thresholds(city_profiles: pd.DataFrame) -> None:
    settings_ = {f.name for f in fields(RuleConfig)}
    for rule in RULES:
        assert set(rule.columns) <= set(city_profiles.columns), rule.name
        assert set(rule.settings) <= settings_, rule.name


def test_rules_on_the_city_rank_identified_households_higher(city_profiles: pd.DataFrame) -> None:
    flags = rule_flags(city_profiles)
    assert 0.01 < flags["income_below_line"].mean() < 0.2
    scores = rule_scores(city_profiles)
    monitored = city_profiles["under_monitoring"] == 1
    assert scores[monitored].mean() > 2 * scores[~monitored].mean()


# --- monitoring lines and rural incomes -----------------------------------------------------------------


def test_lines_fall_back_to_national_values() -> None:
    lines = default_monitoring_lines().with_values("61", {2023: 7_600.0})
    assert lines.value(2023, "61") == 7_600
    assert lines.value(2024, "61") == 7_000  # no provincial value for 2024: national
    assert lines.value(2023, "99") == 6_600  # the demo province uses the national values
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
