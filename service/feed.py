"""The feed of stored scores: everything scored in a region since a cursor, in the order it was stored.

A provincial platform or an alerting job keeps its place with the cursor of the last page and asks for what is
new; nothing is missed and nothing comes twice, whichever road (API, job) stored the scores. Each item carries
the household's previous stored level in the same village (`None` for its first score), so that "crossed into
high risk" is one comparison for the reader. The cursor is opaque to callers: today the last score's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service._scores import ScoreView
from service.errors import InvalidFieldError
from service.scope import Scope
from service.tables import RiskLevel, ScoreRecord

MAX_PAGE: Final = 1000


@dataclass(frozen=True)
class FeedPage:
    items: list[tuple[ScoreView, RiskLevel | None]]  # each score with the household's previous level there
    cursor: str  # pass it back to get what comes after this page
    more: bool  # whether more scores were already stored after this page


def parse_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:  # "¹" and "١" are digits too
        raise InvalidFieldError("cursor", "is not a cursor this feed gave")
    return int(cursor)


def scores_after(session: Session, scope: Scope, cursor: str | None, limit: int = 100) -> FeedPage:
    """The next `limit` scores stored in `scope` after `cursor`, oldest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidFieldError("limit", f"must lie between 1 and {MAX_PAGE}")
    after = parse_cursor(cursor)
    rows = list(
        session.scalars(
            select(ScoreRecord)
            .where(ScoreRecord.id > after, scope.filter(ScoreRecord.region_code))
            .order_by(ScoreRecord.id)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    previous = _previous_levels(session, rows)
    items = [(ScoreView.of(row), previous.get(row.id)) for row in rows]
    return FeedPage(items, str(rows[-1].id) if rows else str(after), more)


def _previous_levels(session: Session, rows: list[ScoreRecord]) -> dict[int, RiskLevel | None]:
    found = previous_values(session, ScoreRecord.level, rows)
    return {score_id: None if level is None else RiskLevel(level) for score_id, level in found.items()}


def previous_values(session: Session, column: Any, rows: Sequence[Any]) -> dict[int, Any]:
    """Each score's `column` in the household's score just before it in the same village, ordered by as_of, then
    storage; None without one. One query for the page: the households' scores numbered in that order (LAG),
    narrowed to the page's `rows` (anything with `id`, `household_pseudonym` and `region_code`); a score stored
    later for an earlier as_of still counts as before."""
    if not rows:
        return {}
    ordered = (
        select(
            ScoreRecord.id.label("id"),
            func.lag(column, type_=column.type)
            .over(
                partition_by=(ScoreRecord.household_pseudonym, ScoreRecord.region_code),
                order_by=(ScoreRecord.as_of, ScoreRecord.id),
            )
            .label("previous"),
        )
        .where(
            ScoreRecord.household_pseudonym.in_({row.household_pseudonym for row in rows}),
            ScoreRecord.region_code.in_({row.region_code for row in rows}),
        )
        .subquery()
    )
    found = session.execute(select(ordered.c.id, ordered.c.previous).where(ordered.c.id.in_([r.id for r in rows])))
    return {int(score_id): previous for score_id, previous in found}
