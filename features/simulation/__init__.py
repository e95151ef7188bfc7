"""The synthetic city: a fictional prefecture-level city modelled on docs/domain.md §8 (docs/simulation.md)."""

from features.simulation.city import TRUTH_DIR, TRUTH_FILE, simulate_city
from features.simulation.config import CityConfig
from features.simulation.need import NEED_FILE

__all__ = ["NEED_FILE", "TRUTH_DIR", "TRUTH_FILE", "CityConfig", "simulate_city"]
