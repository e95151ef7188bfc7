"""Reference distributions and PSI: a later sample of the same population is stable, a shifted feature is named."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from models.risk_model import FeatureSpec
from training.drift import ACT, WATCH, drift_against, level, psi, reference_distributions

FEATURES = (
    FeatureSpec("income_pc_yuan", "number"),
    FeatureSpec("members_count", "count"),
    FeatureSpec("chronic_ill", "flag"),
    FeatureSpec("terrain", "category", categories=("hill", "mountain", "plain")),
)


def population(n: int, seed: int, income_shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of one population (with missing values) and a score that depends on them."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(9.0 + income_shift, 0.6, n)
    income[rng.random(n) < 0.05] = np.nan
    rows = pd.DataFrame(
        {
            "income_pc_yuan": income,
            "members_count": rng.integers(1, 8, n).astype(float),
            "chronic_ill": (rng.random(n) < 0.2).astype(float),
            "terrain": pd.Categorical(rng.choice(["hill", "mountain", "plain"], n, p=[0.5, 0.3, 0.2])),
        }
    )
    logit = -2.0 + 1.2 * rows["chronic_ill"] - 0.4 * (np.log(rows["income_pc_yuan"].fillna(8_000)) - 9.0)
    return rows, (1 / (1 + np.exp(-logit))).to_numpy()


def test_psi_of_a_hand_computed_case() -> None:
    # shares 0.5/0.5 against 0.25/0.75: (0.25 − 0.5)·ln(0.5) + (0.75 − 0.5)·ln(1.5)
    assert psi([50, 50], [25, 75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert psi([10, 20, 30], [20, 40, 60]) == pytest.approx(0.0)  # same shares, other sizes
    assert psi([10, 0], [10, 10]) > ACT  # an empty reference bin is floored, not infinite
    assert (level(0.05), level(WATCH), level(0.2), level(ACT)) == ("stable", "watch", "watch", "act")


def test_the_reference_is_small_json_with_every_row_counted_once() -> None:
    rows, scores = population(3_000, 1)
    reference = reference_distributions(rows, FEATURES, scores)
    assert len(json.dumps(reference)) < 5_000
    for described in [*reference["features"].values(), reference["score"]]:
        assert sum(described["counts"]) == 3_000
    income = reference["features"]["income_pc_yuan"]
    assert len(income["edges"]) == 9 and income["counts"][-1] == int(rows["income_pc_yuan"].isna().sum())
    assert reference["features"]["terrain"]["categories"] == ["hill", "mountain", "plain"]
    flag = reference["features"]["chronic_ill"]  # two values: ties merge the deciles into the edges 0 and 1
    assert flag["edges"] == [0.0, 1.0]
    assert flag["counts"] == [int((rows["chronic_ill"] == 0).sum()), int((rows["chronic_ill"] == 1).sum()), 0, 0]


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_a_later_sample_of_the_same_population_is_stable_everywhere(seed: int) -> None:
    rows, scores = population(3_000, 1)
    reference = reference_distributions(rows, FEATURES, scores)
    drift = drift_against(reference, *population(3_000, seed))
    assert max(drift.features.values()) < WATCH, drift.features
    assert drift.score < WATCH
    assert all(alert == "stable" for _, _, alert in drift.top())


def test_a_shifted_feature_crosses_the_act_level_and_is_named_first() -> None:
    rows, scores = population(3_000, 1)
    reference = reference_distributions(rows, FEATURES, scores)
    drift = drift_against(reference, *population(3_000, 5, income_shift=0.5))
    name, value, alert = drift.top()[0]
    assert (name, alert) == ("income_pc_yuan", "act") and value > ACT
    assert all(v < WATCH for n, v in drift.features.items() if n != "income_pc_yuan"), drift.features
    assert drift.flat()["drift_features_act"] == 1.0


def test_unseen_categories_and_more_missing_values_count_as_drift() -> None:
    rows, scores = population(3_000, 1)
    reference = reference_distributions(rows, FEATURES, scores)
    later, later_scores = population(3_000, 6)
    later["terrain"] = later["terrain"].astype(object).where(np.arange(3_000) % 2 == 0, "desert")
    later.loc[later.index[:1_500], "members_count"] = np.nan
    drift = drift_against(reference, later, later_scores)
    assert drift.features["terrain"] > ACT and drift.features["members_count"] > ACT


def test_the_monitor_checks_each_anniversary_of_the_test_date_and_knows_which_windows_are_open() -> None:
    from training.monitor_city import check_dates

    test = pd.Timestamp("2025-01-01")
    assert check_dates(test, pd.Timestamp("2025-12-31"), 12) == []
    # the training extract itself: its households as of its end date, drift only
    assert check_dates(test, pd.Timestamp("2026-01-01"), 12) == [(pd.Timestamp("2026-01-01"), 1, True)]
    assert check_dates(test, pd.Timestamp("2027-01-01"), 12) == [
        (pd.Timestamp("2026-01-01"), 1, False),
        (pd.Timestamp("2027-01-01"), 2, True),
    ]
    # a six-month label closes inside a half year of data
    assert check_dates(test, pd.Timestamp("2026-07-01"), 6) == [(pd.Timestamp("2026-01-01"), 1, False)]
    assert check_dates(test, pd.Timestamp("2026-06-30"), 6) == [(pd.Timestamp("2026-01-01"), 1, True)]
