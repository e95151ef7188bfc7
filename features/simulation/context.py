"""Helpers every step of a simulated year uses: dates within the year and sums per household."""

from __future__ import annotations

import numpy as np


def dates(rng: np.random.Generator, year: int, n: int, first_day: int = 0, last_day: int = 364) -> np.ndarray:
    return np.datetime64(f"{year}-01-01", "D") + rng.integers(first_day, last_day + 1, n).astype("timedelta64[D]")


def in_year(when: np.ndarray, year: int) -> np.ndarray:
    """Follow-up payments are booked in the year of the shock (the books close on 31 December)."""
    return np.minimum(when, np.datetime64(f"{year}-12-31"))


def per_household(n: int, index: np.ndarray, values: np.ndarray | float) -> np.ndarray:
    weights = np.broadcast_to(np.asarray(values, dtype=float), index.shape)
    return np.bincount(index, weights=weights, minlength=n)
