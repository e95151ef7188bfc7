"""What every step of a simulated year shares: the year, the city, the random stream and the record logs.

The steps run in a fixed order and all draw from one random generator, so the same seed gives the same city
only if the order of the steps and of the draws within them is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulation.config import CityConfig
from features.simulation.geography import Geography
from features.simulation.population import Population
from features.simulation.records import EventLog, SpellLog
from features.simulation.state import CAUSES, State


@dataclass
class YearContext:
    year: int
    pop: Population
    state: State
    config: CityConfig
    geo: Geography
    rng: np.random.Generator
    events: EventLog
    spells: SpellLog
    growth: float  # wage and price level relative to the first year
    age: np.ndarray  # per member, at 1 July
    alive: np.ndarray  # per member, alive on 1 January
    protected: np.ndarray  # per household: poverty-alleviated, monitored or on dibao (docs/domain.md §4)
    protected_m: np.ndarray  # the same per member
    impact: np.ndarray  # (households, len(CAUSES)) yuan lost or spent by cause, filled in by the steps
    shock_date: np.ndarray  # first shock date of the year per household (NaT when none)

    @classmethod
    def start(
        cls,
        year: int,
        pop: Population,
        state: State,
        config: CityConfig,
        geo: Geography,
        rng: np.random.Generator,
        events: EventLog,
        spells: SpellLog,
    ) -> YearContext:
        protected = pop.hh_poverty_alleviated | state.hh_monitored | (state.hh_dibao_monthly > 0)
        return cls(
            year=year,
            pop=pop,
            state=state,
            config=config,
            geo=geo,
            rng=rng,
            events=events,
            spells=spells,
            growth=(1 + config.wage_growth) ** (year - config.first_year),
            age=(np.datetime64(f"{year}-07-01") - pop.m_birth).astype(float) / 365.25,
            alive=state.m_alive.copy(),
            protected=protected,
            protected_m=protected[pop.m_household],
            impact=np.zeros((pop.n_households, len(CAUSES))),
            shock_date=np.full(pop.n_households, np.datetime64("NaT"), "datetime64[D]"),
        )

    @property
    def n(self) -> int:
        return self.pop.n_households

    @property
    def m(self) -> int:
        return self.pop.n_members

    @property
    def hh(self) -> np.ndarray:
        """Each member's household index."""
        return self.pop.m_household

    def dates(self, n: int, first_day: int = 0, last_day: int = 364) -> np.ndarray:
        """`n` dates drawn uniformly between two days of the year (0 = 1 January)."""
        offsets = self.rng.integers(first_day, last_day + 1, n).astype("timedelta64[D]")
        return np.datetime64(f"{self.year}-01-01", "D") + offsets

    def in_year(self, when: np.ndarray) -> np.ndarray:
        """Follow-up payments are booked in the year of the shock (the books close on 31 December)."""
        return np.minimum(when, np.datetime64(f"{self.year}-12-31"))

    def per_household(self, index: np.ndarray, values: np.ndarray | float) -> np.ndarray:
        """Sums `values` by household index `index`."""
        weights = np.broadcast_to(np.asarray(values, dtype=float), index.shape)
        return np.bincount(index, weights=weights, minlength=self.n)

    def note_shock(self, household: np.ndarray, when: np.ndarray) -> None:
        np.fmin.at(self.shock_date, household, when)

    def noise(self, sigma: float) -> np.ndarray:
        """A household factor around 1: the recorded year is never exactly the plan."""
        return self.rng.lognormal(0, sigma, self.n)
