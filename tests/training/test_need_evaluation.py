"""Need versus identification (training/need_evaluation.py): the truth window and the recalls, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.need_evaluation import compare_rankings, equal_recall_score, need_truth


def test_need_truth_counts_need_dated_inside_the_half_open_window() -> None:
    truth = pd.DataFrame(
        {
            "household_id": ["A", "B", "C", "D"],
            "need_date": pd.to_datetime(["2024-12-31", "2025-01-01", "2025-12-31", "2026-01-01"]),
        }
    )
    ids = pd.Series(["A", "B", "C", "D", "E"])
    y = need_truth(truth, ids, pd.Timestamp("2025-01-01"), pd.Timestamp("2026-01-01"))
    assert y.tolist() == [0, 1, 1, 0, 0]


def test_recalls_by_household_type_use_the_same_visits() -> None:
    # 20 households; 5 % visits = 1 household, 10 % = 2. In need: 0, 1 (former poor) and 10, 11 (ordinary).
    y = np.zeros(20, dtype=int)
    y[[0, 1, 10, 11]] = 1
    former_poor = np.arange(20) < 10
    score = np.linspace(1, 0, 20)  # household 0 first, then 1, 2, …
    table = compare_rankings(y, {"a": score}, former_poor).iloc[0]
    assert table["recall_at_1pct"] == pytest.approx(1 / 4)  # ceil(0.2) = 1 household visited
    assert table["recall_at_5pct"] == pytest.approx(1 / 4)
    assert table["recall_at_10pct"] == pytest.approx(2 / 4)
    assert table["recall_at_5pct_former_poor"] == pytest.approx(1 / 2)
    assert table["recall_at_5pct_ordinary"] == 0.0
    assert table["ordinary_to_former_poor"] == 0.0


def test_equal_recall_score_spends_visits_by_expected_need() -> None:
    # Group A expects 2.0 households in need (0.9, 0.9, 0.1, 0.1), group B 0.4 (0.1 × 4).
    p = np.array([0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    groups = np.array(["A", "A", "A", "A", "B", "B", "B", "B"])
    score = equal_recall_score(p, groups)
    # Shares after each household: A 0.45, 0.9, 0.95, 1.0; B 0.25, 0.5, 0.75, 1.0.
    assert score == pytest.approx([0.55, 0.1, 0.05, 0.0, 0.75, 0.5, 0.25, 0.0])
    # Two visits: the first of each group (estimated recall 0.45 and 0.25), not A's two 0.9s.
    first_two = set(np.argsort(-score, kind="stable")[:2])
    assert first_two == {0, 4}


def test_the_gap_between_types_is_judged_against_its_chance_level() -> None:
    # 200 households, 10 visits (5 %): all ten go to former poor households in need (TPR 10/20 = 0.5), none to
    # the 20 ordinary households in need (TPR 0): a gap of 0.5, which no shuffle of the types comes near.
    y = np.zeros(200, dtype=int)
    y[:20] = 1  # former poor in need
    y[100:120] = 1  # ordinary in need
    former_poor = np.arange(200) < 100
    score = np.where(np.arange(200) < 10, 1.0, 0.0)
    row = compare_rankings(y, {"a": score}, former_poor, seed=1).iloc[0]
    assert row["type_gap"] == pytest.approx(0.5)
    assert row["type_gap_chance"] < 0.5
    assert row["type_gap_ci_low"] <= 0.5 <= row["type_gap_ci_high"]
    assert row["type_gap_ci_low"] > row["type_gap_chance"]
