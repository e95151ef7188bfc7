"""The synthetic city: a fictional prefecture-level city modelled on docs/domain.md §8 (docs/simulation.md)."""

from features.simulation.city import TRUTH_DIR, TRUTH_FILE, simulate_city
from features.simulation.config import CityConfig

__all__ = ["TRUTH_DIR", "TRUTH_FILE", "CityConfig", "simulate_city"]
