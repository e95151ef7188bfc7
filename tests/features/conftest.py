"""Fixtures for the profile, rule and catalogue tests: a shared synthetic city and its profiles."""

from __future__ import annotations

import pandas as pd
import pytest

from features.profiles.build import build_profiles
from features.reading.sources import Sources
from tests.cities import city

AS_OF = pd.Timestamp("2024-01-01")


@pytest.fixture(scope="session")
def small_city() -> Sources:
    return city(2_000, 1)


@pytest.fixture(scope="session")
def city_profiles(small_city: Sources) -> pd.DataFrame:
    return build_profiles(small_city, AS_OF)
