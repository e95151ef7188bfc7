"""Reads the reports need beyond `service.store`: the trend across scoring runs and rules versus model.

Like `service.store`, every query filters by the caller's `Scope` in SQL and returns plain values. Both work on
each household's latest score (the same definition as `region_summary`), so a report's numbers agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session, aliased

from service._scores import ScoreView
from service._summary import _latest_scores
from service.scope import Scope
from service.tables import RiskLevel, ScoreRecord

MAX_RUNS: Final = 12


@dataclass(frozen=True)
class TrendPoint:
    """Households scored with one `as_of` date (one scoring run), by level."""

    as_of: date
    by_level: dict[RiskLevel, int]


def level_trend(session: Session, scope: Scope, max_runs: int = MAX_RUNS) -> list[TrendPoint]:
    """Households by level for each of the latest `max_runs` scoring dates, oldest first."""
    dates = list(
        session.scalars(
            select(ScoreRecord.as_of)
            .where(scope.filter(ScoreRecord.region_code))
            .group_by(ScoreRecord.as_of)
            .order_by(ScoreRecord.as_of.desc())
            .limit(max_runs)
        )
    )
    if not dates:
        return []
    rows = session.execute(
        select(ScoreRecord.as_of, ScoreRecord.level, func.count(func.distinct(ScoreRecord.household_pseudonym)))
        .where(scope.filter(ScoreRecord.region_code), ScoreRecord.as_of.in_(dates))
        .group_by(ScoreRecord.as_of, ScoreRecord.level)
    )
    points = {as_of: dict.fromkeys(RiskLevel, 0) for as_of in dates}
    for as_of, level, count in rows:
        points[as_of][RiskLevel(level)] = int(count)
    return [TrendPoint(as_of, points[as_of]) for as_of in sorted(points)]


@dataclass(frozen=True)
class Disagreement:
    """Households where the model and the official rules disagree: how many, and the first few."""

    households: int
    listed: list[ScoreView]


def rules_versus_model(session: Session, scope: Scope, limit: int) -> tuple[Disagreement, Disagreement]:
    """(high model level without any rule flag, highest first; a rule flag but low model level, highest first).

    Rule flags are stored as a JSON object of booleans. A flag is raised exactly when the object's text contains
    `true` (flag names are identifiers, values booleans), which both SQLite and PostgreSQL can test on the text
    without a backend-specific JSON function — and without loading every household's flags into Python.
    """
    latest = _latest_scores(scope)
    record = aliased(ScoreRecord, name="record")
    any_flag = cast(record.rule_flags, String).like("%true%")
    out = []
    for level, flagged in ((RiskLevel.HIGH, False), (RiskLevel.LOW, True)):
        condition = (record.level == level, any_flag if flagged else ~any_flag)
        base = select(record).join(latest, latest.c.id == record.id).where(*condition)
        count = session.scalar(base.with_only_columns(func.count()))
        rows = session.scalars(base.order_by(record.probability.desc(), record.household_pseudonym).limit(limit))
        out.append(Disagreement(int(count or 0), [ScoreView.of(row) for row in rows]))
    return out[0], out[1]
