"""Parameters of the synthetic city. Every figure names its basis: docs/domain.md or `assumed`.

The defaults are calibrated so that a 50,000-household city lands inside the bands of docs/domain.md §9
(checked by tests/features/test_simulation.py). Change them only with that test green.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from features.contract.dibao_standards import DEMO_DIBAO_STANDARDS
from features.contract.monitoring_lines import (
    DEFAULT_MONITORING_LINES,
    DEFAULT_RURAL_INCOME_PRIOR_YEAR,
    MissingYearError,
)

# The demo city is in the fictional province 99, which uses the national monitoring lines and income benchmarks
# of features.contract.monitoring_lines (docs/domain.md §3; 2019 and 2021 on assumed there) and the province's own
# 低保 standard of features.contract.dibao_standards (0.9 × the line, assumed; docs/domain.md §13).


@dataclass(frozen=True)
class CityConfig:
    """What the generator needs besides the seed. Figures marked (assumed) are this project's choices."""

    households: int = 50_000
    first_year: int = 2019
    last_year: int = 2025
    counties: int = 13  # docs/domain.md §8: 13 county-level units
    households_per_village: int = 300  # assumed
    villages_per_township: int = 14  # assumed

    # Household composition (archetype shares), tuned to 2.6–3.3 members and 35–55 % with a 60+ member.
    archetype_shares: tuple[float, ...] = (0.14, 0.18, 0.10, 0.30, 0.20, 0.08)
    poverty_alleviated_share: dict[str, float] = field(
        default_factory=lambda: {"former_poor": 0.38, "key_assisted": 0.5, "general": 0.12}
    )  # assumed, gives ≈ 22 % overall (band 15–30 %)
    minority_village_share: float = 0.06  # assumed: a few Hui/Mongol villages for the fairness checks

    monitoring_lines: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_MONITORING_LINES))
    rural_income_prior_year: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_RURAL_INCOME_PRIOR_YEAR))
    dibao_standards: dict[int, float] = field(default_factory=lambda: dict(DEMO_DIBAO_STANDARDS))
    # docs/domain.md §3 rigid-expenditure triggers (configurable local rules).
    single_stay_oop_poverty_alleviated_yuan: float = 6_000.0
    single_stay_oop_other_yuan: float = 10_000.0
    yearly_oop_share_poverty_alleviated: float = 0.5
    yearly_oop_share_other: float = 1.0

    wage_growth: float = 0.05  # assumed yearly nominal growth of wages and prices
    # Missing member fields in the recorded data (docs/domain.md §6 public extract: 21 % / 53 % / 99 %;
    # the bands ask ≈ 20 % / ≈ 50 % / ≥ 50 %; education here 60 %, assumed, so it still carries signal).
    missing_health: float = 0.20
    missing_labour_skill: float = 0.50
    missing_education: float = 0.60

    # Discovery of households in difficulty (three channels, docs/domain.md §1) — assumed.
    discovery_probability: float = 0.75
    mean_discovery_delay_days: float = 75.0
    spurious_identification_rate: float = 0.001

    # Who is observed (docs/domain.md §6): the yearly probability that an ordinary household's income is
    # recorded although it is neither monitored nor on the safety net — an application, a screening round or a
    # survey (assumed; 1.0 records every household every year).
    ordinary_income_observed_share: float = 0.25

    # Civil-affairs categories (docs/domain.md §16; features/simulation/civil_affairs.py): who is recognised
    # besides 低保 and 特困, each year until the next review — assumed.
    dibao_edge_multiple: float = 1.5  # 低保边缘: own income below this multiple of the 低保 standard
    dibao_edge_recognised_share: float = 0.4  # of the households that qualify in a year
    rigid_expenditure_share_of_income: float = 0.5  # medical + education costs above this share of gross income
    rigid_expenditure_recognised_share: float = 0.4

    def __post_init__(self) -> None:
        for name in ("monitoring_lines", "rural_income_prior_year", "dibao_standards"):
            table = getattr(self, name)
            for year in self.years:
                if year not in table:
                    raise MissingYearError(name, year, None)

    @property
    def years(self) -> range:
        return range(self.first_year, self.last_year + 1)
