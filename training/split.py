"""Time-based splits of labelled snapshots: learn from the past, check on the future.

Snapshots carry an `as_of` column. The latest reference date is the test period, the one before it the
validation period (early stopping and calibration), all earlier ones the training period. A rolling-origin
backtest repeats this with the test period moving back one date at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class TimeSplit:
    train: tuple[pd.Timestamp, ...]
    valid: pd.Timestamp
    test: pd.Timestamp

    def train_mask(self, snapshots: pd.DataFrame) -> pd.Series:
        return snapshots["as_of"].isin(self.train)

    def valid_mask(self, snapshots: pd.DataFrame) -> pd.Series:
        return snapshots["as_of"] == self.valid

    def test_mask(self, snapshots: pd.DataFrame) -> pd.Series:
        return snapshots["as_of"] == self.test

    def describe(self) -> dict[str, str]:
        return {
            "train": ",".join(str(t.date()) for t in self.train),
            "valid": str(self.valid.date()),
            "test": str(self.test.date()),
        }


def latest_split(as_of_dates: list[pd.Timestamp] | pd.Series) -> TimeSplit:
    dates = sorted(pd.to_datetime(pd.Series(as_of_dates)).unique())
    if len(dates) < 3:
        raise ValueError(f"a time-based split needs at least 3 reference dates, got {len(dates)}")
    return TimeSplit(tuple(pd.Timestamp(d) for d in dates[:-2]), pd.Timestamp(dates[-2]), pd.Timestamp(dates[-1]))


def rolling_origin(as_of_dates: list[pd.Timestamp] | pd.Series, min_train: int = 1) -> list[TimeSplit]:
    """One split per test date, each training only on dates before its validation date."""
    dates = sorted(pd.to_datetime(pd.Series(as_of_dates)).unique())
    return [
        TimeSplit(tuple(pd.Timestamp(d) for d in dates[: i - 1]), pd.Timestamp(dates[i - 1]), pd.Timestamp(dates[i]))
        for i in range(min_train + 1, len(dates))
    ]
