"""Reference tables keyed by (year, province): the monitoring line and the rural income benchmark.

Both change every year and, since 2023, by province (docs/domain.md §3), so they are data, not constants:
a deployment overrides them with its own province's published values. Province "99" is the fictional
province of the demo city; it has no row of its own and falls back to the national values.

A year missing from a table is an error naming the table and the year (`MissingYearError`): a profile, a label
or an eligibility rule judged against another year's line would look right and be wrong, and from 2026 on no
national figure is published that a silent fallback could stand for (docs/domain.md §10). The values for 2026
and later are `assumed` placeholders until a deployment adds its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import pandas as pd

NATIONAL: Final = "00"
MissingYear = Literal["nearest", "error"]

# docs/domain.md §3: 2020 ≈ 6,000 (1.5 × the poverty line); 2021–2025 assumed; 2019 assumed at the 2020 line
# deflated by ≈ 3 % (the synthetic city starts in 2019); 2026–2027 assumed, continuing the 2022–2025 steps of
# 300–400 yuan a year (docs/domain.md §10: no national figure is published for the normalised mechanism).
DEFAULT_MONITORING_LINES: Final[dict[int, float]] = {
    2019: 5_800.0,
    2020: 6_000.0,
    2021: 6_000.0,
    2022: 6_300.0,
    2023: 6_600.0,
    2024: 7_000.0,
    2025: 7_300.0,
    2026: 7_600.0,
    2027: 7_900.0,
}

# docs/domain.md §3 rigid-expenditure trigger: the province's rural per-capita disposable income of the year
# *before* the expenditure year, keyed by the expenditure year. Anchored on 16,550 (Yan'an, 2024 → used
# for 2025); other years, 2026–2027 included, assumed at ≈ 6–7 % growth — the same assumption as the synthetic
# city.
DEFAULT_RURAL_INCOME_PRIOR_YEAR: Final[dict[int, float]] = {
    2018: 10_500.0,  # a reference date on 2019-01-01 judges the 12 months of 2018
    2019: 11_200.0,
    2020: 12_000.0,
    2021: 12_700.0,
    2022: 13_800.0,
    2023: 14_700.0,
    2024: 15_600.0,
    2025: 16_550.0,
    2026: 17_600.0,
    2027: 18_700.0,
}


class MissingYearError(LookupError):
    """A table that must not reuse another year's value has no value for the year asked: a deployment's
    configuration is incomplete (not bad input), so it is not a `features.errors.FeaturesError`."""

    def __init__(self, table: str, year: int, province: str | None) -> None:
        where = f"province {province} or national" if province and province != NATIONAL else "national"
        super().__init__(f"table {table!r} has no value for year {year} ({where}); add the year to the table")
        self.table, self.year, self.province = table, year, province

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class YearProvinceTable:
    """Yuan values by (year, province) with national fallbacks.

    Lookup order: the province's own value for the year, else the national value. With `missing_year`
    "error" (the default, and what every shipped table uses), a year in neither raises `MissingYearError`:
    a line, benchmark or standard is never quietly taken from another year. "nearest" takes the nearest
    year's value instead; it is for a deployment's own tables that knowingly carry the last published value
    forward, never for the defaults.
    """

    name: str
    national: Mapping[int, float]
    provinces: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    missing_year: MissingYear = "error"

    def __post_init__(self) -> None:
        if not self.national:
            raise ValueError(f"{self.name}: the national table needs at least one year")

    def value(self, year: int, province: str | None = None) -> float:
        table = self.provinces.get(province or NATIONAL, {})
        if year in table:
            return float(table[year])
        if year in self.national:
            return float(self.national[year])
        if self.missing_year == "error":
            raise MissingYearError(self.name, year, province)
        return float(self.national[_nearest(self.national, year)])

    def lookup(self, years: np.ndarray, provinces: np.ndarray) -> np.ndarray:
        """Vectorised `value`; NaN where the year is missing (NaN)."""
        years = np.asarray(years, dtype=float)
        if len(years) <= _FEW:  # a household or a few: `value` per row costs less than factorising them
            rows = zip(years.tolist(), provinces, strict=True)
            return np.array([np.nan if y != y else self.value(int(y), _province(p)) for y, p in rows], dtype=float)
        province_codes, province_names = pd.factorize(pd.Series(provinces, dtype=object), use_na_sentinel=False)
        out = np.full(len(years), np.nan)
        known = ~np.isnan(years)
        # Few distinct (year, province) pairs: resolve each pair once, then broadcast.
        pair = np.where(known, np.nan_to_num(years) * 100_000 + province_codes, -1).astype(np.int64)
        distinct, inverse = np.unique(pair, return_inverse=True)
        values = np.array(
            [
                np.nan if p < 0 else self.value(int(p // 100_000), _province(province_names[p % 100_000]))
                for p in distinct
            ]
        )
        out[:] = values[inverse.reshape(-1)] if len(distinct) else out
        return out

    def with_values(self, province: str, values: Mapping[int, float]) -> YearProvinceTable:
        """A copy with a province's own published values added (or replaced)."""
        merged = {k: dict(v) for k, v in self.provinces.items()}
        merged.setdefault(province, {}).update(values)
        return YearProvinceTable(self.name, dict(self.national), merged, self.missing_year)


# Up to this many rows, `lookup` resolves each row on its own.
_FEW: Final = 16


def _province(name: object) -> str | None:
    return name if isinstance(name, str) else None


def _nearest(table: Mapping[int, float], year: int) -> int:
    years = sorted(table)
    if year <= years[0]:
        return years[0]
    if year >= years[-1]:
        return years[-1]
    return max(y for y in years if y <= year)


def default_monitoring_lines() -> YearProvinceTable:
    return YearProvinceTable("monitoring_line", dict(DEFAULT_MONITORING_LINES))


def default_rural_incomes() -> YearProvinceTable:
    return YearProvinceTable("rural_income_prior_year", dict(DEFAULT_RURAL_INCOME_PRIOR_YEAR))
