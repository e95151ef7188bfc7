"""The 低保 standard table: values by year and province, and a missing year is an error, never another year's value."""

from __future__ import annotations

import numpy as np
import pytest

from features.contract.dibao_standards import DEFAULT_DIBAO_STANDARDS, default_dibao_standards
from features.contract.monitoring_lines import MissingYearError, default_monitoring_lines


def test_the_national_value_of_each_year() -> None:
    table = default_dibao_standards()
    for year, value in DEFAULT_DIBAO_STANDARDS.items():
        assert table.value(year) == value
        assert table.value(year, "99") == value  # the demo province has no row of its own


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
    provinces = np.array(["61", "99", "61", None], dtype=object)
    got = table.lookup(years, provinces)
    np.testing.assert_array_equal(got, [8_000.0, DEFAULT_DIBAO_STANDARDS[2022], np.nan, DEFAULT_DIBAO_STANDARDS[2025]])


def test_the_monitoring_line_still_carries_the_nearest_year() -> None:
    lines = default_monitoring_lines()
    assert lines.value(2040) == lines.value(2025) and lines.value(1990) == lines.value(2019)
