"""The 低保 standard table: values by year and province, and a missing year is an error, never another year's value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from features.contract.dibao_standards import DEFAULT_DIBAO_STANDARDS, DEMO_DIBAO_STANDARDS, default_dibao_standards
from features.contract.monitoring_lines import (
    DEFAULT_MONITORING_LINES,
    DEFAULT_RURAL_INCOME_PRIOR_YEAR,
    MissingYearError,
    YearProvinceTable,
    default_monitoring_lines,
    default_rural_incomes,
)
from features.simulation.config import CityConfig
from relapse.cli import app


def test_the_national_value_of_each_year() -> None:
    table = default_dibao_standards()
    for year, value in DEFAULT_DIBAO_STANDARDS.items():
        assert table.value(year) == value
        assert table.value(year, "61") == value  # a province without rows of its own


def test_the_demo_province_grants_dibao_below_its_line_and_the_city_uses_the_same_standard() -> None:
    table = default_dibao_standards()
    for year, line in DEFAULT_MONITORING_LINES.items():
        assert table.value(year, "99") == pytest.approx(0.9 * line)
        assert table.value(year, "99") < line
    assert CityConfig().dibao_standards == DEMO_DIBAO_STANDARDS


def test_a_province_s_own_value_comes_first() -> None:
    table = default_dibao_standards().with_values("61", {2024: 9_000.0})
    assert table.value(2024, "61") == 9_000.0
    assert table.value(2023, "61") == DEFAULT_DIBAO_STANDARDS[2023]
    assert table.missing_year == "error"  # kept by with_values


@pytest.mark.parametrize("year", [min(DEFAULT_DIBAO_STANDARDS) - 1, max(DEFAULT_DIBAO_STANDARDS) + 1])
def test_a_missing_year_is_an_error_naming_the_table_and_the_year(year: int) -> None:
    with pytest.raises(MissingYearError, match=rf"'dibao_standard' has no value for year {year} \(national\)"):
        default_dibao_standards().value(year)
    with pytest.raises(MissingYearError, match=rf"{year} \(province 61 or national\)"):
        default_dibao_standards().value(year, "61")
    with pytest.raises(MissingYearError, match=str(year)):
        default_dibao_standards().lookup(np.array([2023.0, float(year)]), np.array(["99", "99"], dtype=object))


def test_the_vectorised_lookup_matches_value_and_leaves_unknown_years_missing() -> None:
    table = default_dibao_standards().with_values("61", {2022: 8_000.0})
    years = np.array([2022.0, 2022.0, np.nan, 2025.0])
    provinces = np.array(["61", "62", "61", None], dtype=object)
    got = table.lookup(years, provinces)
    np.testing.assert_array_equal(got, [8_000.0, DEFAULT_DIBAO_STANDARDS[2022], np.nan, DEFAULT_DIBAO_STANDARDS[2025]])


@pytest.mark.parametrize(
    ("table", "defaults"),
    [
        (default_monitoring_lines(), DEFAULT_MONITORING_LINES),
        (default_rural_incomes(), DEFAULT_RURAL_INCOME_PRIOR_YEAR),
        (default_dibao_standards(), DEFAULT_DIBAO_STANDARDS),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_every_shipped_table_covers_2026_and_refuses_the_year_after_its_last(
    table: YearProvinceTable, defaults: dict[int, float]
) -> None:
    assert 2026 in defaults and table.value(2026) == defaults[2026]
    assert table.value(2026) > table.value(2025)  # a placeholder grows; it is never the 2025 value reused
    after = max(defaults) + 1
    with pytest.raises(MissingYearError, match=rf"^table '{table.name}' has no value for year {after} \(national\)"):
        table.value(after)
    with pytest.raises(MissingYearError, match=rf"'{table.name}'.*{after} \(province 61 or national\)"):
        table.with_values("61", {2026: 1.0}).value(after, "61")
    before = min(defaults) - 1
    with pytest.raises(MissingYearError, match=rf"'{table.name}'.*{before}"):
        table.lookup(np.array([2024.0, float(before)]), np.array(["99", "99"], dtype=object))


def test_a_deployment_may_opt_into_carrying_its_last_value_forward() -> None:
    table = YearProvinceTable("own_line", {2024: 7_000.0, 2025: 7_300.0}, missing_year="nearest")
    assert table.value(2027) == 7_300.0 and table.value(2020) == 7_000.0
    assert table.with_values("61", {2025: 7_500.0}).value(2027, "61") == 7_300.0  # national nearest, kept by copy


def test_a_city_whose_years_a_table_lacks_is_refused_naming_the_table_and_the_year() -> None:
    with pytest.raises(MissingYearError, match=r"'monitoring_lines' has no value for year 2028"):
        CityConfig(first_year=2026, last_year=2028)
    lines = dict.fromkeys(range(2026, 2029), 7_000.0)
    with pytest.raises(MissingYearError, match=r"'rural_income_prior_year' has no value for year 2028"):
        CityConfig(first_year=2026, last_year=2028, monitoring_lines=lines)


def test_simulating_a_year_no_table_holds_names_the_table_and_the_year(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path), "--years", "2026-2028"])
    assert result.exit_code == 2
    flowed = " ".join(result.output.replace("│", " ").split())  # Rich's error box may wrap the message
    assert "'monitoring_lines' has no value for year 2028" in flowed
    assert not any(tmp_path.iterdir())
