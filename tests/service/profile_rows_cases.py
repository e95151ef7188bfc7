"""API profile rows for the equality tests of the row-wise paths: real households' rows, with gaps and odd cells.

Shared by tests/service/test_profile_rows.py (rows → frame or values), tests/models/test_prepare_rows.py (values
→ matrix) and tests/service/test_scoring.py (the whole decision).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.profiles.catalogue import FEATURES
from tests.service.api_support import profile_row
from tests.service.test_api_scores import _household_in


def county_rows(profiles: pd.DataFrame, count: int) -> list[dict[str, Any]]:
    """The rows of the first `count` households of county 990101, as the API receives them."""
    return [profile_row(profiles, _household_in(profiles, "990101", k)) for k in range(count)]


def variants(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One row, another, all of them, rows with gaps and another as-of date, and a bare row."""
    gaps = [dict(row) for row in rows[:4]]
    gaps[1] = {k: v for k, v in gaps[1].items() if k not in ("members_count", "income_year", "monitoring_line_yuan")}
    gaps[2]["main_industry"] = None
    gaps[3]["as_of"] = "2024-06-01"
    bare = [{"household_id": "h1", "region_code": "990101001001"}]
    return [rows[:1], rows[1:2], rows, gaps, bare]


def random_rows(profiles: pd.DataFrame, seed: int) -> list[dict[str, Any]]:
    """1–4 real rows with random gaps, odd-but-valid values and meta cells of other types."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(profiles), size=int(rng.integers(1, 5)), replace=False)
    rows = [profile_row(profiles, int(i)) for i in picks]
    names = [item.name for item in FEATURES]
    for row in rows:
        for name in rng.choice(names, size=int(rng.integers(0, 12)), replace=False):
            row[str(name)] = None if rng.random() < 0.5 else row.get(str(name))
        count = next(item.name for item in FEATURES if item.kind == "count")
        if rng.random() < 0.3:
            row[count] = float(rng.integers(0, 4)) + (0.5 if rng.random() < 0.5 else 0.0)  # a float for a count
        if rng.random() < 0.3:
            row["income_year"] = int(rng.integers(2020, 2025))  # an int among floats in a multi-row request
        if rng.random() < 0.2:
            row["monitoring_line_yuan"] = None
        if rng.random() < 0.2:
            row["county_code"] = None
        if rng.random() < 0.2:
            row["as_of"] = "2024-12-31"
        if rng.random() < 0.1:
            row["main_industry"] = None
    return rows


def frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Each row of the frame as column → cell, the cells as `frame.iloc[i]` holds them."""
    return [dict(zip(frame.columns, frame.iloc[i].to_numpy(dtype=object), strict=True)) for i in range(len(frame))]
