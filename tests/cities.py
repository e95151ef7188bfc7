"""Small synthetic cities for tests, generated once per test session and shared between test packages."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from features.reading.sources import Sources, read_sources
from features.simulation import CityConfig, simulate_city

_ROOT = Path(tempfile.mkdtemp(prefix="relapse-test-cities-"))


@lru_cache(maxsize=4)
def city_folder(households: int = 2_000, seed: int = 1) -> Path:
    """A generated city's source folder (Parquet), written once per session."""
    folder = _ROOT / f"city-{households}-seed{seed}"
    simulate_city(CityConfig(households=households), seed=seed, out_dir=folder)
    return folder


@lru_cache(maxsize=4)
def city(households: int = 2_000, seed: int = 1) -> Sources:
    """The city's tables, read and typed as the contract says. Treat as read-only: it is shared."""
    return read_sources(city_folder(households, seed))
