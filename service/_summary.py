"""Region summaries for officials and grid workers: counts by level, top risk types, the visit list and the trend.

They read the narrow tables `service._scores` writes in the same transaction as every score — each household's
latest score per village (`latest_scores`) and the households of each scoring run (`household_runs`) — and the
wide score rows only of the few households they list. Every read filters by the caller's `Scope` in SQL.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import Integer, Select, String, func, select, type_coerce
from sqlalchemy.orm import Session

from service._scores import ScoreView
from service.errors import InvalidFieldError
from service.scope import Scope
from service.tables import HouseholdRun, LatestScore, RiskLevel, ScoreRecord

MAX_VISIT_LIST: Final = 1000
MAX_RUNS: Final = 12
_LEVELS: Final = {level.value: level for level in RiskLevel}


@dataclass(frozen=True)
class RiskTypeCount:
    """A reason key (risk-type code or group) and how many households name it among their top reasons."""

    key: str
    households: int


@dataclass(frozen=True)
class RegionSummary:
    """The latest stored score of every household in the region, summarised."""

    region_code: str
    households: int
    by_level: dict[RiskLevel, int]  # every level, zero included
    top_risk_types: list[RiskTypeCount]  # most frequent first
    visit_list: list[ScoreView]  # highest probability first
    latest_as_of: date | None
    synthetic: bool  # some of the scores come from synthetic (demo) data: reports must say so


@dataclass(frozen=True)
class TrendPoint:
    """Households scored with one `as_of` date (one scoring run), by level."""

    as_of: date
    by_level: dict[RiskLevel, int]


@dataclass(frozen=True)
class Disagreement:
    """Households where the model and the official rules disagree: how many, and the first few."""

    households: int
    listed: list[ScoreView]


# The columns of a household's row as `LatestScores` keeps it, in this order. Dates, times and flags stay as the
# driver returns them (text and 0/1 on SQLite, date, datetime and bool on PostgreSQL): one backend's values
# compare correctly with each other (SQLite's text is fixed-width ISO), and skipping the conversion of 50,000
# rows is what keeps a county's first report fast. Rows compare as tuples: the same household's rows differ
# first in (as_of, scored_at, score_id), so the larger row is the later score.
PSEUDONYM, AS_OF, SCORED_AT, SCORE_ID, PROBABILITY, LEVEL, SYNTHETIC, ANY_RULE_FLAG, REASON_KEYS = range(9)
LatestRow = tuple[Any, ...]


@lru_cache(maxsize=4096)
def _reason_keys(text: str) -> tuple[str, ...]:
    # A region has few distinct combinations of top reasons: each is parsed once.
    return tuple(json.loads(text))


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value[:10])


def _fetch_tuples(session: Session, query: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The query's rows as the driver returns them, fetched at once.

    For a county's 50,000 rows, building SQLAlchemy rows cost as much again as the driver's fetch, and a
    server-side cursor's round trips more than the rows (all of them are kept anyway). The statement is
    compiled by SQLAlchemy with bound parameters, as `execute` would.
    """
    connection = session.connection()
    compiled = query.compile(dialect=connection.dialect)
    params: Any = compiled.construct_params()
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup or ())
    cursor = connection.connection.cursor()
    try:
        cursor.execute(compiled.string, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


class LatestScores:
    """Each household's latest score inside a scope, read from `latest_scores`.

    A household scored in several villages of the scope has a row for each; the latest of them counts, the
    largest (as_of, scored_at, score id) — the order of `household_history`. `read` may be called again with
    `after_score_id`: rows replaced since by newer scores are merged in, giving what a fresh read gives.
    """

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.households: dict[str, LatestRow] = {}

    def read(self, session: Session, after_score_id: int = 0) -> int:
        """Merge the scope's rows whose score id is above `after_score_id` (every row by default); how many."""
        query = select(
            LatestScore.household_pseudonym,
            type_coerce(LatestScore.as_of, String),
            type_coerce(LatestScore.scored_at, String),
            LatestScore.score_id,
            LatestScore.probability,
            type_coerce(LatestScore.level, String),
            type_coerce(LatestScore.synthetic, Integer),
            type_coerce(LatestScore.any_rule_flag, Integer),
            LatestScore.reason_keys,
        ).where(self.scope.filter(LatestScore.region_code))
        if after_score_id:  # a merge reads few rows, by the score id's index; a whole read scans the region
            query = query.where(LatestScore.score_id > after_score_id)
        rows = _fetch_tuples(session, query)
        households = self.households
        for row in rows:
            seen = households.get(row[PSEUDONYM])
            if seen is None or row > seen:
                households[row[PSEUDONYM]] = row
        return len(rows)


def _score_views(session: Session, scope: Scope, ids: Iterable[int]) -> dict[int, ScoreView]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = select(ScoreRecord).where(ScoreRecord.id.in_(wanted), scope.filter(ScoreRecord.region_code))
    return {row.id: ScoreView.of(row) for row in session.scalars(query)}


def _rank(row: LatestRow) -> tuple[float, str]:
    return -row[PROBABILITY], row[PSEUDONYM]  # highest probability first, ties by pseudonym


def summarise(
    session: Session, scope: Scope, latest: Mapping[str, LatestRow], visit_max: int, compare_max: int = 0
) -> tuple[RegionSummary, Disagreement, Disagreement]:
    """The summary of households' latest scores (visit list: the `visit_max` highest), and the two
    disagreements between model and rules — high level without a rule flag, a rule flag at low level — with
    their first `compare_max` households, highest probability first (ties by pseudonym)."""
    rows = latest.values()
    levels = Counter(row[LEVEL] for row in rows)
    combinations = Counter(row[REASON_KEYS] for row in rows)
    risk_types: Counter[str] = Counter()
    for text, households in combinations.items():
        for key in _reason_keys(text):
            risk_types[key] += households
    latest_as_of = max((row[AS_OF] for row in rows), default=None)
    high, low = RiskLevel.HIGH.value, RiskLevel.LOW.value
    model_only = [row for row in rows if row[LEVEL] == high and not row[ANY_RULE_FLAG]]
    rules_only = [row for row in rows if row[LEVEL] == low and row[ANY_RULE_FLAG]]
    visits = heapq.nsmallest(visit_max, rows, key=_rank)
    first_model_only = heapq.nsmallest(compare_max, model_only, key=_rank)
    first_rules_only = heapq.nsmallest(compare_max, rules_only, key=_rank)
    views = _score_views(session, scope, (row[SCORE_ID] for row in (*visits, *first_model_only, *first_rules_only)))
    summary = RegionSummary(
        region_code=scope.region_prefix,
        households=len(latest),
        by_level={level: levels.get(level.value, 0) for level in RiskLevel},
        top_risk_types=[
            RiskTypeCount(key, count) for key, count in sorted(risk_types.items(), key=lambda item: (-item[1], item[0]))
        ],
        visit_list=[views[row[SCORE_ID]] for row in visits],
        latest_as_of=None if latest_as_of is None else _as_date(latest_as_of),
        synthetic=any(row[SYNTHETIC] for row in rows),
    )
    return (
        summary,
        Disagreement(len(model_only), [views[row[SCORE_ID]] for row in first_model_only]),
        Disagreement(len(rules_only), [views[row[SCORE_ID]] for row in first_rules_only]),
    )


def region_summary(session: Session, scope: Scope, region_code: str, top_k: int = 20) -> RegionSummary:
    """Summary of `region_code` (any level: "99" province … 12-digit village) inside `scope`.

    A region outside the scope raises `OutOfScopeError` from the codes alone; a region without stored scores
    gives an empty summary — so nobody learns whether households exist in a region they may not see.
    """
    inner = scope.narrow(region_code)
    if not 1 <= top_k <= MAX_VISIT_LIST:
        raise InvalidFieldError("top_k", f"must lie between 1 and {MAX_VISIT_LIST}")
    latest = LatestScores(inner)
    latest.read(session)
    return summarise(session, inner, latest.households, top_k)[0]


def level_trend(session: Session, scope: Scope, max_runs: int = MAX_RUNS) -> list[TrendPoint]:
    """Households by level for each of the latest `max_runs` scoring dates, oldest first (over every stored
    score, not only the latest: a household re-scored with the same date at another level counts at both)."""
    rows = session.execute(
        select(
            HouseholdRun.as_of,
            type_coerce(HouseholdRun.level, String),
            func.count(func.distinct(HouseholdRun.household_pseudonym)),
        )
        .where(scope.filter(HouseholdRun.region_code))
        .group_by(HouseholdRun.as_of, HouseholdRun.level)
    )
    points: dict[date, dict[RiskLevel, int]] = {}
    for as_of, level, count in rows:
        points.setdefault(as_of, dict.fromkeys(RiskLevel, 0))[_LEVELS[level]] = int(count)
    return [TrendPoint(as_of, points[as_of]) for as_of in sorted(points)[-max_runs:]] if max_runs > 0 else []


def score_fingerprint(session: Session, scope: Scope) -> tuple[int, int]:
    """(number of scores, largest score id) in the region, from the region index of `score_records` alone."""
    count, largest = session.execute(
        select(func.count(), func.max(ScoreRecord.id)).where(scope.filter(ScoreRecord.region_code))
    ).one()
    return int(count or 0), int(largest or 0)


def count_scores_after(session: Session, scope: Scope, after_id: int) -> int:
    """How many scores of the region have an id above `after_id`."""
    count = session.scalar(select(func.count()).where(scope.filter(ScoreRecord.region_code), ScoreRecord.id > after_id))
    return int(count or 0)
