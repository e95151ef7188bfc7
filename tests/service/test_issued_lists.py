"""Issued lists: the rank-chosen slots hold the highest probabilities with selection probability 1, the explored
slots are a seeded draw from the village's other listable households with probability slots / pool, and the list
is stored as it was handed out."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.db import Database
from service.errors import InvalidFieldError, NotFoundError
from service.issued_lists import draw, exploration_slots, issue_list, read_list
from service.scope import Scope
from service.visits import VisitIn, latest_visits, record_visit
from tests.service.test_reports_worklist import clear, score, store

pytestmark = pytest.mark.xdist_group("reports")

VILLAGE, OTHER = "990101001001", "990101001002"
SCOPE = Scope("990101")


def _issue(
    db: Database, per_village: int, share: float, seed: int = 7
) -> tuple[str, list[tuple[str, int, float, bool]]]:
    with db.session() as session:
        head, rows = issue_list(
            session, SCOPE, per_village, {}, share=share, seed=seed, visits=latest_visits(session, SCOPE), key_id=None
        )
        return head.list_version, [
            (r.household_pseudonym, r.rank, r.selection_probability, r.explored)
            for r in sorted(rows, key=lambda r: (r.region_code, r.rank))
        ]


def test_rank_slots_have_probability_one_and_drawn_slots_slots_over_pool(db: Database) -> None:
    clear(db)
    # Ten households, hh0 highest. Five slots at 40 %: two drawn, three by rank; the pool is the other seven.
    store(db, [score(f"hh{i}", VILLAGE, round(0.9 - i * 0.05, 2)) for i in range(10)])
    version, rows = _issue(db, 5, 0.4)
    assert version == "990101-20250701-1"
    assert rows[:3] == [("hh0", 1, 1.0, False), ("hh1", 2, 1.0, False), ("hh2", 3, 1.0, False)]
    drawn = rows[3:]
    assert [r[1] for r in drawn] == [4, 5] and all(r[3] for r in drawn)
    assert all(r[2] == pytest.approx(2 / 7) for r in drawn)
    assert {r[0] for r in drawn} <= {f"hh{i}" for i in range(3, 10)}
    # Ordered by probability among the drawn (hh3 above hh9).
    assert int(drawn[0][0][2:]) < int(drawn[1][0][2:])

    again, same = _issue(db, 5, 0.4)
    assert again == "990101-20250701-2" and same == rows  # the same seed draws the same households
    with db.read_session() as session:
        head, stored = read_list(session, SCOPE, version)
        assert head.seed == 7 and head.exploration_share == 0.4 and head.as_of == date(2025, 7, 1)
        assert len(stored) == 5 and {r.model_version for r in stored} == {"relapse-risk/3"}
        with pytest.raises(NotFoundError):
            read_list(session, Scope("990102"), version)  # another region's list is unknown


def test_monitored_and_settled_households_are_never_drawn(db: Database) -> None:
    clear(db)
    monitored = {"monitoring_status": "monitored"}
    rows = [score(f"hh{i}", VILLAGE, round(0.9 - i * 0.05, 2)) for i in range(6)]
    rows[4] = dataclasses.replace(rows[4], status=monitored)
    store(db, rows)
    with db.session() as session:
        fields = {"visited_on": date(2025, 7, 10), "visitor_role": "grid_worker", "outcome": "not_at_risk"}
        record_visit(session, SCOPE, "hh5", VisitIn.model_validate(fields), key_id=None, source="api")
    # Two slots, one drawn: hh0 by rank; the pool is hh1, hh2, hh3 (hh4 monitored, hh5 settled by its visit).
    for seed in range(20):
        _, listed = _issue(db, 2, 0.5, seed)
        assert listed[0] == ("hh0", 1, 1.0, False)
        assert listed[1][0] in {"hh1", "hh2", "hh3"} and listed[1][2] == pytest.approx(1 / 3)


def test_a_pool_no_larger_than_the_slots_is_listed_whole_with_probability_one(db: Database) -> None:
    clear(db)
    store(db, [score(f"a{i}", VILLAGE, 0.5 - i * 0.1) for i in range(3)] + [score("b0", OTHER, 0.2)])
    _, rows = _issue(db, 4, 0.5)
    assert rows == [
        ("a0", 1, 1.0, False),
        ("a1", 2, 1.0, False),
        ("a2", 3, 1.0, True),  # two slots drawn from a pool of one
        ("b0", 1, 1.0, False),
    ]


def test_no_exploration_gives_the_work_list_alone(db: Database) -> None:
    clear(db)
    store(db, [score(f"hh{i}", VILLAGE, 0.9 - i * 0.1) for i in range(5)])
    _, rows = _issue(db, 3, 0.0)
    assert rows == [("hh0", 1, 1.0, False), ("hh1", 2, 1.0, False), ("hh2", 3, 1.0, False)]


def test_an_empty_region_and_a_bad_share_are_refused(db: Database) -> None:
    clear(db)
    with pytest.raises(NotFoundError):
        _issue(db, 3, 0.1)
    with pytest.raises(InvalidFieldError, match="exploration_share"):
        exploration_slots(10, 0.9)


@pytest.mark.parametrize(("per_village", "share", "slots"), [(20, 0.1, 2), (10, 0.1, 1), (9, 0.1, 0), (3, 0.5, 1)])
def test_exploration_slots_round_down(per_village: int, share: float, slots: int) -> None:
    assert exploration_slots(per_village, share) == slots


@given(pool=st.integers(1, 12), slots=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_a_draw_takes_min_slots_pool_members_each_with_the_stated_probability(pool: int, slots: int, seed: int) -> None:
    members = [f"h{i}" for i in range(pool)]
    chosen, probability = draw(members, slots, seed, VILLAGE)
    assert len(chosen) == min(pool, slots) == len(set(chosen)) and set(chosen) <= set(members)
    assert probability == pytest.approx(min(1.0, slots / pool))
    assert draw(list(reversed(members)), slots, seed, VILLAGE) == (chosen, probability)  # order of pool ignored


def test_the_stated_probability_is_the_frequency_over_seeds() -> None:
    members = [f"h{i}" for i in range(8)]
    counts = Counter(h for seed in range(4000) for h in draw(members, 3, seed, VILLAGE)[0])
    # 3 / 8 = 0.375 each; 4000 draws give a standard error near 0.008, so 0.03 is more than three of them.
    assert all(abs(counts[h] / 4000 - 3 / 8) < 0.03 for h in members)
