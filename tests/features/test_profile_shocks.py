"""Shock features on the tiny city with a few records added, each value worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from features.profiles.build import build_profiles
from features.reading.sources import Sources
from tests.tiny_city import AS_OF, tiny_sources

LINE_2023 = 6_600.0
# Per-capita income above the 2023 line: H1 32,500 / 3 members, H2 10,000 (tests/features/test_profiles.py).
MARGIN_H1 = 32_500 / 3 - LINE_2023
MARGIN_H2 = 10_000 - LINE_2023


def _with(sources: Sources, name: str, rows: list[dict[str, object]], replace: bool = False) -> Sources:
    extra = pd.DataFrame(rows)
    for column in ("event_date", "recorded_date"):
        if column in extra:
            extra[column] = pd.to_datetime(extra[column])
    frame = extra if replace else pd.concat([sources[name], extra], ignore_index=True)
    return Sources({**sources.tables, name: frame}, dict(sources.manifest))


def _event(event_id: str, household: str, member: object, kind: str, when: str, **values: float) -> dict[str, object]:
    return {"event_id": event_id, "household_id": household, "member_id": member, "event_type": kind,
            "event_date": when, **values}  # fmt: skip


def _profiles(sources: Sources) -> pd.DataFrame:
    return build_profiles(sources, AS_OF).set_index("household_id")


def test_accident_medical_cost_counts_the_injured_members_stays_in_the_window() -> None:
    # M1 (H1) is injured on 2023-10-01; his stays E1 (8,000, 2023-11-15) and E2 (2,500, 2023-02-01, before the
    # accident but inside the window) count, E3 (2022-12-31) is outside the window and E4 is dated on as_of.
    # M6 (H2) is injured too but has no hospital stay; an accident on as_of (M2) is not visible yet.
    sources = _with(
        tiny_sources(),
        "events",
        [
            _event("A1", "H1", "M1", "accident", "2023-10-01", loss_yuan=2_000.0),
            _event("A2", "H2", "M6", "accident", "2023-04-01", loss_yuan=3_000.0),
            _event("A3", "H1", "M2", "accident", "2024-01-01", loss_yuan=9_000.0),
        ],
    )
    tiny = _profiles(sources)
    assert tiny.loc["H1", "accident_medical_oop_12m_yuan"] == pytest.approx(8_000 + 2_500)
    assert tiny.loc["H1", "accident_cost_to_margin_12m"] == pytest.approx((2_000 + 10_500) / 3 / MARGIN_H1)
    assert tiny.loc["H2", "accident_medical_oop_12m_yuan"] == 0
    assert tiny.loc["H2", "accident_cost_to_margin_12m"] == pytest.approx(3_000 / 2 / MARGIN_H2)


def test_stays_of_members_without_an_accident_are_not_accident_costs() -> None:
    sources = _with(tiny_sources(), "events", [_event("A1", "H1", "M2", "accident", "2023-10-01", loss_yuan=500.0)])
    tiny = _profiles(sources)
    assert tiny.loc["H1", "accident_medical_oop_12m_yuan"] == 0  # the stays are M1's
    assert tiny.loc["H1", "accident_cost_to_margin_12m"] == pytest.approx(500 / 3 / MARGIN_H1)


def test_disaster_losses_older_than_six_months_leave_the_six_month_ratio() -> None:
    sources = _with(
        tiny_sources(),
        "events",
        [_event("D1", "H2", None, "disaster", "2023-06-30", loss_yuan=8_000.0)],  # a day before the window
    )
    tiny = _profiles(sources)
    assert tiny.loc["H2", "disaster_loss_6m_to_margin"] == 0
    assert tiny.loc["H2", "disaster_loss_to_income_12m"] == pytest.approx(8_000 / 20_000)


@pytest.mark.parametrize(
    ("job_losses", "expected"),
    [
        (0, 0.0),
        (1, 15_000 / 20_000),  # the one migrant worker lost work: all migrant wages were at risk
        (2, 15_000 / 20_000),  # twice the same worker: still at most all migrant wages
    ],
)
def test_job_loss_income_share_is_the_migrant_wages_of_those_who_lost_work(job_losses: int, expected: float) -> None:
    sources = tiny_sources()
    events = sources["events"]
    events = events[events["event_type"] != "job_loss"]
    losses = [_event(f"J{k}", "H2", "M6", "job_loss", f"2023-0{k + 3}-01") for k in range(job_losses)]
    sources = _with(sources, "events", [*events.to_dict("records"), *losses], replace=True)
    income = sources["income"].copy()
    h2 = income["household_id"] == "H2"
    income.loc[h2, "wage_migrant_yuan"] = 15_000.0
    income.loc[h2, "wage_local_yuan"] = 5_000.0
    status = sources["member_status"].copy()
    status.loc[status["member_id"] == "M6", "migrant_work_months"] = 10
    sources = Sources({**sources.tables, "income": income, "member_status": status}, dict(sources.manifest))
    tiny = _profiles(sources)
    assert tiny.loc["H2", "migrant_workers_count"] == 1
    assert tiny.loc["H2", "job_loss_income_share_12m"] == pytest.approx(expected)


def test_a_household_at_or_under_the_line_has_the_floor_as_its_margin() -> None:
    # H2's 2023 income is cut to 6,000 per member (under the 6,600 line): the margin is 0.1 × the line.
    income = tiny_sources()["income"].copy()
    income.loc[income["household_id"] == "H2", "wage_local_yuan"] = 12_000.0
    sources = _with(tiny_sources(), "income", income.to_dict("records"), replace=True)
    tiny = _profiles(sources)
    assert tiny.loc["H2", "income_to_line"] == pytest.approx(6_000 / LINE_2023)
    assert tiny.loc["H2", "business_loss_to_margin_12m"] == pytest.approx(4_000 / 2 / (0.1 * LINE_2023))
