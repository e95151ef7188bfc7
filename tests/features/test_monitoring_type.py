"""The monitoring type a household would enter as: hand-computed per branch, and the row and column walks of the
one rule equal on perturbed real profiles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.profiles.monitoring_type import (
    MARGINAL,
    SHOCKS,
    SUDDEN,
    TYPE_RULE,
    UNSTABLE,
    expected_type_row,
    expected_types,
)
from features.profiles.status import StatusValueError
from tests.models.explain_fixtures import snapshots

NAN = float("nan")
# An ordinary household 1.4 × above the line with no shock at all.
BASE: dict[str, Any] = {
    "monitoring_status": "not_monitored",
    "poverty_alleviated": 0.0,
    "income_to_line": 1.4,
    "oop_to_income_12m": 0.0,
    "disaster_loss_to_income_12m": 0.0,
    "accident_cost_to_margin_12m": 0.0,
    "business_loss_to_margin_12m": 0.0,
    "income_pc_change_1y": 0.05,
}

CASES = [
    ("ordinary, no shock", {}, MARGINAL),
    ("former poor", {"poverty_alleviated": 1.0}, UNSTABLE),
    ("former poor with a shock stays unstable", {"poverty_alleviated": 1.0, "oop_to_income_12m": 0.9}, UNSTABLE),
    ("hospital costs at half the income", {"oop_to_income_12m": 0.5}, SUDDEN),
    ("hospital costs just under half", {"oop_to_income_12m": 0.49}, MARGINAL),
    ("disaster losses 60 % of income", {"disaster_loss_to_income_12m": 0.6}, SUDDEN),
    ("accident costs use up the margin", {"accident_cost_to_margin_12m": 1.0}, SUDDEN),
    ("accident costs 90 % of the margin", {"accident_cost_to_margin_12m": 0.9}, MARGINAL),
    ("business losses twice the margin", {"business_loss_to_margin_12m": 2.0}, SUDDEN),
    ("income halved on the year before", {"income_pc_change_1y": -0.5}, SUDDEN),
    ("income down 40 %", {"income_pc_change_1y": -0.4}, MARGINAL),
    ("income already below the line: inside the range", {"income_to_line": 0.9, "oop_to_income_12m": 0.8}, MARGINAL),
    ("income exactly at the line counts as above", {"income_to_line": 1.0, "oop_to_income_12m": 0.8}, SUDDEN),
    ("unknown income: no sudden", {"income_to_line": NAN, "oop_to_income_12m": 0.8}, MARGINAL),
    ("missing shocks are no shock", dict.fromkeys(s.column for s in SHOCKS), MARGINAL),
    ("missing registration is not former poor", {"poverty_alleviated": None}, MARGINAL),
    ("risk eliminated, former poor", {"monitoring_status": "eliminated", "poverty_alleviated": 1.0}, UNSTABLE),
    ("status unknown", {"monitoring_status": None, "disaster_loss_to_income_12m": 3.0}, SUDDEN),
    ("monitored keeps its recorded type", {"monitoring_status": "monitored", "monitoring_type": "sudden",
                                           "poverty_alleviated": 1.0}, SUDDEN),
    ("monitored without a recorded type", {"monitoring_status": "monitored", "poverty_alleviated": 1.0}, None),
]  # fmt: skip


@pytest.mark.parametrize(("case", "changes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_hand_computed_types(case: str, changes: dict[str, Any], expected: str | None) -> None:
    row = BASE | changes
    assert expected_type_row(row) == expected
    assert expected_types(pd.DataFrame([row]))[0] == expected


def test_the_table_walk_keeps_row_order_over_all_cases() -> None:
    frame = pd.DataFrame([BASE | changes for _, changes, _ in CASES])
    assert list(expected_types(frame)) == [expected for _, _, expected in CASES]


def test_absent_columns_read_as_missing() -> None:
    frame = pd.DataFrame({"income_to_line": [2.0, 0.5]})
    assert list(expected_types(frame)) == [MARGINAL, MARGINAL]
    assert expected_type_row({"income_to_line": 2.0}) == MARGINAL


def test_a_status_outside_its_code_list_is_refused_by_name() -> None:
    with pytest.raises(StatusValueError, match="monitoring_status"):
        expected_type_row(BASE | {"monitoring_status": "watched"})


# --- property: the row and column walks agree on perturbed real profiles -------------------------------------
COLUMNS = [c.column for c in (TYPE_RULE.former_poor, TYPE_RULE.above_line, *TYPE_RULE.shocks)]


@st.composite
def perturbed(draw: st.DrawFn) -> pd.DataFrame:
    """A few real profiles with some rule values blanked or moved to a threshold, and some statuses changed."""
    base = snapshots()
    picks = draw(st.lists(st.integers(0, len(base) - 1), min_size=1, max_size=8, unique=True))
    rows = base.iloc[picks].reset_index(drop=True).copy()
    thresholds = [c.threshold for c in (TYPE_RULE.former_poor, TYPE_RULE.above_line, *TYPE_RULE.shocks)]
    for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=5, unique=True)):
        rows[column] = rows[column].astype("float64")
        value = draw(st.sampled_from([NAN, 0.0, -1.0, 3.0, *thresholds]))
        rows.loc[draw(st.integers(0, len(rows) - 1)), column] = value
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(rows) - 1))
        rows.loc[at, "monitoring_status"] = draw(st.sampled_from(["monitored", "eliminated", "not_monitored", None]))
        rows.loc[at, "monitoring_type"] = draw(st.sampled_from(["unstable", "marginal", "sudden", None]))
    return rows


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=perturbed())
def test_row_and_column_walks_agree(rows: pd.DataFrame) -> None:
    by_row = [expected_type_row(row) for row in rows.to_dict("records")]
    assert list(expected_types(rows)) == by_row
    assert set(by_row) <= {UNSTABLE, MARGINAL, SUDDEN, None}


def test_the_demo_snapshots_use_every_type_and_former_poor_are_unstable() -> None:
    data = snapshots()
    types = expected_types(data)
    assert set(types) == {UNSTABLE, MARGINAL, SUDDEN}
    former = (data["poverty_alleviated"] == 1).to_numpy() & (data["monitoring_status"] != "monitored").to_numpy()
    assert np.all(types[former] == UNSTABLE)
