"""Time-based splits of labelled snapshots: learn from the past, check on the future.

Snapshots carry an `as_of` column. The latest reference date is the test period; the validation period
(early stopping and calibration) is the latest date at least one label horizon before it; the training period
is every date at least one horizon before the validation date. The gaps *purge* overlapping label windows: a
training label ("identified within the next 12 months") never looks into the validation or test period, so
early stopping, calibration and the test figures stay honest when reference dates are closer together than
the horizon (quarterly snapshots). With yearly dates and a 12-month horizon this is simply: train on all
earlier years, validate on the year before the test year.

A rolling-origin backtest repeats the split with the test date moving back one horizon at a time.

Rows added from home-visit outcomes (training/outcomes.py) sit on the training dates only: the validation and test
periods hold the records' label alone, so what is measured does not change with the outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from training.outcomes import visit_rows


@dataclass(frozen=True)
class TimeSplit:
    train: tuple[pd.Timestamp, ...]
    valid: pd.Timestamp
    test: pd.Timestamp

    def train_mask(self, snapshots: pd.DataFrame) -> pd.Series:
        return snapshots["as_of"].isin(self.train)

    def valid_mask(self, snapshots: pd.DataFrame) -> pd.Series:
        return (snapshots["as_of"] == self.valid) & ~visit_rows(snapshots)

    def test_mask(self, snapshots: pd.DataFrame) -> pd.Series:
        return (snapshots["as_of"] == self.test) & ~visit_rows(snapshots)

    def unused_visits(self, snapshots: pd.DataFrame) -> int:
        """Visit outcome rows neither trained nor evaluated on: those of the validation or test date (evaluation
        keeps to the record labels, which no list chose) and of dates the purge leaves out."""
        return int((visit_rows(snapshots) & ~self.train_mask(snapshots)).sum())

    def describe(self) -> dict[str, str]:
        return {
            "train": ",".join(str(t.date()) for t in self.train),
            "valid": str(self.valid.date()),
            "test": str(self.test.date()),
        }


def _dates(as_of_dates: list[pd.Timestamp] | pd.Series) -> list[pd.Timestamp]:
    return [pd.Timestamp(d) for d in sorted(pd.to_datetime(pd.Series(as_of_dates)).unique())]


def split_at(dates: list[pd.Timestamp], test: pd.Timestamp, horizon_months: int) -> TimeSplit | None:
    """The purged split whose test date is `test`, or None when the dates do not allow one."""
    horizon = pd.DateOffset(months=horizon_months)
    earlier = [d for d in dates if d < test]
    valid_candidates = [d for d in earlier if d <= test - horizon] if horizon_months else earlier[-1:]
    if not valid_candidates:
        return None
    valid = valid_candidates[-1]
    train = [d for d in dates if d <= valid - horizon] if horizon_months else [d for d in dates if d < valid]
    if not train:
        return None
    return TimeSplit(tuple(train), valid, test)


def latest_split(as_of_dates: list[pd.Timestamp] | pd.Series, horizon_months: int = 12) -> TimeSplit:
    dates = _dates(as_of_dates)
    split = split_at(dates, dates[-1], horizon_months) if len(dates) >= 3 else None
    if split is None:
        raise ValueError(
            f"a time-based split needs a test date, a validation date at least {horizon_months} months before "
            f"it and training dates at least {horizon_months} months before that; got {len(dates)} date(s) "
            f"from {dates[0].date() if dates else '—'} to {dates[-1].date() if dates else '—'}"
        )
    return split


def rolling_origin(
    as_of_dates: list[pd.Timestamp] | pd.Series, horizon_months: int = 12, min_train: int = 1
) -> list[TimeSplit]:
    """One split per test date, stepping back a horizon (one date when the horizon is 0) at a time."""
    dates = _dates(as_of_dates)
    tests = []
    test = dates[-1]
    while test >= dates[0]:
        tests.append(test)
        if horizon_months:
            test = test - pd.DateOffset(months=horizon_months)
        else:
            earlier = [d for d in dates if d < test]
            test = earlier[-1] if earlier else dates[0] - pd.Timedelta(days=1)
    splits = [split_at(dates, t, horizon_months) for t in sorted(tests) if t in dates]
    return [s for s in splits if s is not None and len(s.train) >= min_train]
