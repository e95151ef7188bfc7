"""Which households' income a real deployment records in a year (docs/domain.md §6, "Who is observed").

The national system collects income every year for 脱贫户 and for monitoring objects; civil affairs reviews the
income of 低保 and 特困 households every year (`assumed`). An ordinary household's income is recorded mainly when
it applies for help, is screened or falls into a survey: here with a yearly probability
`CityConfig.ordinary_income_observed_share` (`assumed`). Department events are pushed for every household and are
not thinned.

The draws come from their own random stream, so that the city itself (every shock, income and identification)
is the same whatever the observation rate.
"""

from __future__ import annotations

import numpy as np

from features.simulation.config import CityConfig
from features.simulation.population import Population
from features.simulation.state import State


def observation_stream(seed: int) -> np.random.Generator:
    """The random stream of the observation process, separate from the city's own."""
    return np.random.default_rng(np.random.SeedSequence([seed, 1]))


def income_observed(
    pop: Population, state: State, config: CityConfig, identified: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Per household: whether this year's income is recorded.

    Call after the year's identifications: `state.hh_monitored` then covers every household monitored at some
    time of the year, and `identified` (this year's identifications) had its income verified.
    """
    watched = pop.hh_poverty_alleviated | state.hh_monitored | identified
    safety_net = (state.hh_dibao_monthly > 0) | state.hh_tekun
    surveyed = rng.random(pop.n_households) < config.ordinary_income_observed_share
    return watched | safety_net | surveyed
