"""The rural minimum-living-standard table (农村最低生活保障标准): yuan per person a year, by (year, province).

低保 is granted to a household whose per-capita income is below the local standard (《社会救助暂行办法》,
国务院令第649号, art. 9); the standard is set and published by the local government every year, so it is data,
like the monitoring line (`features.contract.monitoring_lines`): a deployment adds its own province's values
with `with_values`.

As with every (year, province) table, a year missing from the table is an error (`MissingYearError`, naming the
table and the year): proposing 低保 against another year's standard would be a wrong eligibility decision, not an
approximation.

The national values are `assumed`: they follow the order of magnitude of the national average rural standard
that the Ministry of Civil Affairs reports in its yearly statistical bulletin (民政事业发展统计公报), rounded, and
grow by about 5 % a year after 2022 (2026–2027 included); they are placeholders until a deployment sets its own.
From 2023 they lie above the default monitoring lines — the standard and the line are set by different offices
and neither is derived from the other (docs/domain.md §13).

Province "99", the demo city's fictional province, has its own rows: 0.9 × its monitoring line (`assumed`), the
standard the synthetic city grants 低保 against, so that the city, the 低保 proposals and the civil-affairs
categories read one standard.
"""

from __future__ import annotations

from typing import Final

from features.contract.monitoring_lines import DEFAULT_MONITORING_LINES, YearProvinceTable

# assumed (see the module docstring): yuan per person a year, rural standard.
DEFAULT_DIBAO_STANDARDS: Final[dict[int, float]] = {
    2018: 4_800.0,
    2019: 5_300.0,
    2020: 5_900.0,
    2021: 6_300.0,
    2022: 6_900.0,
    2023: 7_300.0,
    2024: 7_700.0,
    2025: 8_100.0,
    2026: 8_500.0,
    2027: 8_900.0,
}

DEMO_PROVINCE: Final = "99"
# assumed: the demo province's standard is 0.9 × its monitoring line (see the module docstring).
DEMO_DIBAO_STANDARDS: Final[dict[int, float]] = {year: 0.9 * line for year, line in DEFAULT_MONITORING_LINES.items()}


def default_dibao_standards() -> YearProvinceTable:
    return YearProvinceTable(
        "dibao_standard", dict(DEFAULT_DIBAO_STANDARDS), {DEMO_PROVINCE: dict(DEMO_DIBAO_STANDARDS)}
    )
