"""What every part of the profile builder shares: the reference date, its windows and the household index.

Point-in-time rule (docs/architecture.md, non-negotiable 1): a row is visible when its time column is strictly
before `as_of`. Windows are calendar months back from `as_of`: "12 months" is [as_of − 12 months, as_of).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from features.contract.dtypes import pandas_dtype
from features.contract.tables import TABLES, withheld_columns
from features.profiles._keys import KeyIndex, day_number
from features.reading.sources import Sources, empty_frame

Columns = dict[str, np.ndarray]

# Member status older than this is stale: the yearly information collection should have renewed it.
STATUS_LOOKBACK_MONTHS = 24
# Income years older than this are not used (a household without a recent income record reads as unknown).
INCOME_LOOKBACK_YEARS = 5


@dataclass
class Context:
    as_of: pd.Timestamp
    households: KeyIndex
    day: float = field(init=False)  # as_of as a day number, as `days` gives them

    def __post_init__(self) -> None:
        self.day = day_number(self.as_of)

    @property
    def n(self) -> int:
        return self.households.size

    def months_back(self, months: int) -> float:
        return _months_back(self.as_of, months)

    def household_positions(self, frame: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
        return self.households.positions(frame["household_id"], rows)

    def count(self, positions: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Rows per household (rows with position −1 ignored)."""
        keep = positions >= 0 if mask is None else (positions >= 0) & mask
        return np.bincount(positions[keep], minlength=self.n).astype(np.int64)

    def total(self, positions: np.ndarray, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Sum of `values` per household; missing values add nothing."""
        keep = (positions >= 0) & ~np.isnan(values)
        if mask is not None:
            keep &= mask
        return np.bincount(positions[keep], weights=values[keep], minlength=self.n)


@lru_cache(maxsize=256)
def _months_back(as_of: pd.Timestamp, months: int) -> float:
    # Calendar-month arithmetic is slow next to the rest of a one-household profile; dates repeat.
    return day_number(as_of - pd.DateOffset(months=months))


def table(sources: Sources | Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """A source table, or an empty one with the contract's columns when the deployment has none.

    Optional contract columns a deployment does not deliver are added as all-missing columns.
    """
    frame = sources[name] if isinstance(sources, Sources) else sources.get(name)
    if frame is None:
        return empty_frame(TABLES[name])
    # Columns ingestion withholds (ID numbers, names) never reach a profile: no all-missing stand-ins for them.
    withheld = withheld_columns(name)
    absent = [c for c in TABLES[name].columns if c.name not in frame.columns and c.name not in withheld]
    if not absent:
        return frame
    return frame.assign(**{c.name: pd.Series(None, index=frame.index, dtype=pandas_dtype(c)) for c in absent})


def ratio(numerator: np.ndarray, denominator: np.ndarray, *, positive: bool = True) -> np.ndarray:
    """numerator ÷ denominator; NaN where the denominator is missing or (with `positive`) not > 0."""
    ok = denominator > 0 if positive else (denominator != 0)
    ok &= ~np.isnan(denominator)
    out = np.full(len(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=ok)
    return out
