"""Counting what each list of a county's households finds, on a case computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from training.hidden_need_evaluation import LISTS, found_per_county, list_size, undiscovered_onsets


def test_each_county_counts_the_undiscovered_onsets_its_three_lists_find() -> None:
    # County A: ten households, a list of ceil(0.2 × 10) = 2. The hidden-need list skips the flagged household 0
    # and takes 1 and 2 (both undiscovered); the model's own top 2 is 0 and 1; the rules' top 2 is 0 and 3.
    # County B: four households, a list of ceil(0.8) = 1: the list and the model take 10 (nothing found), the
    # rules take the flagged 13 (found). County C: one household and nothing to find.
    county = np.array(["A"] * 10 + ["B"] * 4 + ["C"])
    probability = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.5, 0.4, 0.3, 0.2, 0.1])
    flagged = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], dtype=bool)
    rule_score = np.array([2.5, 0.1, 0.2, 1.5, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 1.2, 0])
    undiscovered = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0], dtype=bool)

    table = found_per_county(county, undiscovered, probability, flagged, rule_score, share=0.2)
    rows = {row["county"]: row for row in table.to_dict("records")}

    def counts(code: str) -> list[int]:
        return [int(rows[code][c]) for c in ("households", "size", "undiscovered", *LISTS)]

    # Without a re-ranking the equal-recall list is the model's top (last column).
    assert counts("A") == [10, 2, 4, 2, 2, 1, 2]
    assert counts("B") == [4, 1, 2, 0, 0, 1, 0]
    assert counts("C") == [1, 1, 0, 0, 0, 0, 0]
    assert counts("all") == [15, 4, 6, 2, 2, 2, 2]

    # A re-ranking that puts households 8 and 3 first in A (one find, 8) and 11 first in B (one find).
    fair = probability.copy()
    fair[[8, 11]] = 1.0
    fair[3] = 0.95
    rows = {
        row["county"]: row
        for row in found_per_county(county, undiscovered, probability, flagged, rule_score, 0.2, fair).to_dict(
            "records"
        )
    }
    assert [rows[c]["equal_recall"] for c in ("A", "B", "C", "all")] == [1, 1, 0, 2]
    assert rows["A"]["hidden_need_list_share"] == 0.5 and rows["B"]["rules_share"] == 0.5
    assert math.isnan(rows["C"]["hidden_need_list_share"])
    assert rows["all"]["hidden_need_list_share"] == 2 / 6


def test_list_size_rounds_up() -> None:
    assert [list_size(n, 0.05) for n in (0, 1, 20, 21, 1000)] == [0, 1, 1, 2, 50]


def test_an_undiscovered_onset_is_need_in_the_window_without_an_identification_there() -> None:
    truth = pd.DataFrame(
        {
            "household_id": ["h1", "h2", "h3", "h5"],
            "need_date": pd.to_datetime(["2025-03-01", "2025-06-01", "2024-11-01", "2026-01-01"]),
        }
    )
    identifications = pd.DataFrame(
        {
            "household_id": ["h2", "h3", "h1"],
            "identified_date": pd.to_datetime(["2025-08-01", "2025-02-01", "2026-02-01"]),
        }
    )
    ids = pd.Series(["h1", "h2", "h3", "h4", "h5"])
    got = undiscovered_onsets(
        {"identifications": identifications}, truth, ids, pd.Timestamp("2025-01-01"), pd.Timestamp("2026-01-01")
    )
    # h1: in need, identified only after the window; h2: identified inside it; h3: need before it; h5: after it.
    assert got.tolist() == [True, False, False, False, False]
