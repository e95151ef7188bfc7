"""The feed's previous levels: equal to the definition computed in Python over every stored score (late re-runs of
earlier dates, households in two villages, the same household twice in a batch), read with a fixed number of
queries per page whatever its length."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from service.db import Database
from service.feed import scores_after
from service.scope import Scope
from service.tables import RiskLevel, ScoreRecord
from tests.service.test_reports_latest import SCOPES, store_random_data


def expected_previous(db: Database) -> dict[int, RiskLevel | None]:
    """Each score's previous level by the definition: the household's score in the same village just before it
    when its scores are ordered by (as_of, id)."""
    with db.session() as session:
        rows = session.execute(
            select(
                ScoreRecord.id,
                ScoreRecord.household_pseudonym,
                ScoreRecord.region_code,
                ScoreRecord.as_of,
                ScoreRecord.level,
            )  # fmt: skip
        ).all()
    histories: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in rows:
        histories[(row.household_pseudonym, row.region_code)].append(row)
    previous: dict[int, RiskLevel | None] = {}
    for history in histories.values():
        history.sort(key=lambda r: (r.as_of, r.id))
        for before, row in zip([None, *history], history, strict=False):
            previous[row.id] = None if before is None else before.level
    return previous


def _feed(db: Database, scope: Scope, limit: int) -> dict[int, RiskLevel | None]:
    out: dict[int, RiskLevel | None] = {}
    cursor = None
    with db.session() as session:
        while True:
            page = scores_after(session, scope, cursor, limit)
            out |= {int(view.id): previous for view, previous in page.items}
            cursor = page.cursor
            if not page.more:
                return out


@pytest.mark.parametrize("seed", [4, 5])
def test_previous_levels_equal_the_definition_in_every_scope_and_page_size(db: Database, seed: int) -> None:
    store_random_data(db, seed, statuses=False)
    expected = expected_previous(db)
    # The data has what the comparison is meant to exercise: histories, and scores stored after a later as_of.
    assert sum(level is not None for level in expected.values()) > 100
    with db.session() as session:
        ids = session.execute(select(ScoreRecord.id, ScoreRecord.region_code)).all()
    for code in SCOPES:
        inside = {score_id for score_id, region in ids if region.startswith(code)}
        for limit in (1, 7, 1000):
            assert _feed(db, Scope(code), limit) == {i: expected[i] for i in inside}, (code, limit)


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_a_page_takes_the_same_queries_whatever_its_length(db: Database) -> None:
    store_random_data(db, 6, statuses=False)
    queries = {}
    for limit in (5, 200):
        with db.session() as session:
            with counted(db) as statements:
                page = scores_after(session, Scope.everything(), None, limit)
            assert len(page.items) == limit and sum(p is not None for _, p in page.items) > 0
            queries[limit] = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries[5]) == len(queries[200]) == 2, queries
