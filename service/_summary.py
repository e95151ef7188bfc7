"""Region summaries for officials and grid workers: counts by level, top risk types, the visit list and the trend.

They read the narrow tables `service._scores` writes in the same transaction as every score — each household's
latest score per village (`latest_scores`) and the households of each scoring run (`household_runs`) — and the
wide score rows only of the few households they list. Every read filters by the caller's `Scope` in SQL.

The model estimates whether a household will be *newly* identified, so every "new risk" output — counts by level,
main risk types, the visit list, the disagreements with the official rules, the trend, the expected number of new
identifications — covers only households that can be newly identified (`features.profiles.status`): current
monitoring objects are left out and listed apart (`RegionSummary.monitored_list`). Households of unknown status
stay in, and their rows say `unknown`.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import Integer, Select, String, func, select, type_coerce
from sqlalchemy.orm import Session

from features.contract.codes import RISK_TYPES
from features.profiles.status import MONITORED, STATUSES
from service._identifications import identifications_by_year
from service._scores import ScoreView
from service.errors import InvalidFieldError
from service.scope import Scope
from service.tables import HouseholdRun, LatestScore, RiskLevel, ScoreRecord

MAX_VISIT_LIST: Final = 1000
MAX_RUNS: Final = 12
_LEVELS: Final = {level.value: level for level in RiskLevel}
# Reason keys that are official risk types (docs/domain.md §4): the codes, and "02" for the whole disaster family.
# Other keys (income, household composition, village context, …) are background, never a risk type.
RISK_TYPE_KEYS: Final = frozenset({*RISK_TYPES, "02"})
# Two-sided 95 % normal quantile for the interval of expected new identifications.
CONFIDENCE: Final = 0.95
_Z95: Final = 1.959963984540054


@dataclass(frozen=True)
class RiskTypeCount:
    """An official risk type and how many high- and medium-risk households that can be newly identified name it
    among their top reasons; `share` is that count over all of those households (0 when there are none)."""

    key: str
    households: int
    share: float = 0.0


@dataclass(frozen=True)
class ExpectedIdentifications:
    """How many households that can be newly identified the model expects to be identified within its horizon.

    The count is a sum of independent Bernoulli outcomes with the households' probabilities (Poisson-binomial):
    `expected` = Σ p, variance Σ p(1 − p); `low`–`high` is the normal approximation's `confidence` interval,
    clipped at 0 and at `households`. Calibrated probabilities make the sum meaningful; independence is
    assumed (a hail year strikes many households at once, so the true spread can be wider)."""

    expected: float
    low: float
    high: float
    households: int
    confidence: float = CONFIDENCE


@dataclass(frozen=True)
class RegionSummary:
    """The latest stored score of every household in the region, summarised (module docstring).

    `households` counts every household with a score; `by_status` splits them by monitoring status. The new-risk
    fields — `by_level`, `top_risk_types`, `visit_list`, `expected_identifications` — cover the
    `newly_identifiable` households only. `monitored_list` lists current monitoring objects apart (oldest
    identification first); their probability is not an estimate of a new identification and is not to be shown
    as one. `identifications_by_year` gives last years' actual identifications in the region, as the source data
    of the latest batch jobs over its villages counted them (`service._identifications`; empty where no job has
    covered them). `latest_identifications_by_year` counts households by the year of their latest identification
    known when scored: a lower bound of each year's identifications (a household identified twice counts once, at
    its later identification; households never scored not at all), available wherever scores are.
    """

    region_code: str
    households: int
    by_level: dict[RiskLevel, int]  # every level, zero included
    top_risk_types: list[RiskTypeCount]  # most frequent first
    visit_list: list[ScoreView]  # highest probability first
    latest_as_of: date | None
    synthetic: bool  # some of the scores come from synthetic (demo) data: reports must say so
    newly_identifiable: int = 0
    by_status: dict[str, int] = field(default_factory=dict)  # every status, zero included
    monitored_list: list[ScoreView] = field(default_factory=list)
    expected_identifications: ExpectedIdentifications = field(
        default_factory=lambda: ExpectedIdentifications(0.0, 0.0, 0.0, 0)
    )
    latest_identifications_by_year: dict[int, int] = field(default_factory=dict)
    identifications_by_year: dict[int, int] = field(default_factory=dict)  # from jobs' source data; empty: none
    risk_type_households: int = 0  # high- and medium-risk households that can be newly identified: the shares' base


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
(
    PSEUDONYM,
    AS_OF,
    SCORED_AT,
    SCORE_ID,
    PROBABILITY,
    LEVEL,
    SYNTHETIC,
    ANY_RULE_FLAG,
    REASON_KEYS,
    MONITORING_STATUS,
    IDENTIFIED_DATE,
) = range(11)
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
            LatestScore.monitoring_status,
            type_coerce(LatestScore.identified_date, String),
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


def _monitored_rank(row: LatestRow) -> tuple[str, str]:
    # Oldest identification first: the households whose elimination is most overdue for review. ISO dates
    # compare as text; a missing date sorts last.
    identified = row[IDENTIFIED_DATE]
    return (str(identified)[:10] if identified is not None else "9999"), row[PSEUDONYM]


def _risk_type_counts(rows: Iterable[LatestRow]) -> Counter[str]:
    """How many of the rows name each official risk type among their top reasons (background keys skipped)."""
    combinations = Counter(row[REASON_KEYS] for row in rows)
    counts: Counter[str] = Counter()
    for text, households in combinations.items():
        for key in _reason_keys(text):
            if key in RISK_TYPE_KEYS:
                counts[key] += households
    return counts


def _identifications_by_year(rows: Iterable[LatestRow]) -> dict[int, int]:
    years = Counter(int(str(row[IDENTIFIED_DATE])[:4]) for row in rows if row[IDENTIFIED_DATE] is not None)
    return dict(sorted(years.items()))


def expected_identifications(probabilities: Iterable[float]) -> ExpectedIdentifications:
    """The expected count of new identifications and its interval (`ExpectedIdentifications`)."""
    values = [float(p) for p in probabilities]
    expected = math.fsum(values)
    spread = _Z95 * math.sqrt(math.fsum(p * (1.0 - p) for p in values))
    return ExpectedIdentifications(
        expected, max(0.0, expected - spread), min(float(len(values)), expected + spread), len(values)
    )


def summarise(
    session: Session, scope: Scope, latest: Mapping[str, LatestRow], visit_max: int, compare_max: int = 0
) -> tuple[RegionSummary, Disagreement, Disagreement]:
    """The summary of households' latest scores (visit list: the `visit_max` highest of those that can be newly
    identified; monitored list: the first `visit_max` current monitoring objects), and the two disagreements
    between model and rules among households that can be newly identified — high level without a rule flag, a
    rule flag at low level — with their first `compare_max` households, highest probability first (ties by
    pseudonym)."""
    rows = latest.values()
    statuses = Counter(row[MONITORING_STATUS] or "unknown" for row in rows)
    fresh = [row for row in rows if row[MONITORING_STATUS] != MONITORED]
    monitored = [row for row in rows if row[MONITORING_STATUS] == MONITORED]
    levels = Counter(row[LEVEL] for row in fresh)
    high, medium, low = RiskLevel.HIGH.value, RiskLevel.MEDIUM.value, RiskLevel.LOW.value
    at_risk = [row for row in fresh if row[LEVEL] in (high, medium)]
    risk_types = _risk_type_counts(at_risk)
    latest_as_of = max((row[AS_OF] for row in rows), default=None)
    model_only = [row for row in fresh if row[LEVEL] == high and not row[ANY_RULE_FLAG]]
    rules_only = [row for row in fresh if row[LEVEL] == low and row[ANY_RULE_FLAG]]
    visits = heapq.nsmallest(visit_max, fresh, key=_rank)
    listed_monitored = heapq.nsmallest(visit_max, monitored, key=_monitored_rank)
    first_model_only = heapq.nsmallest(compare_max, model_only, key=_rank)
    first_rules_only = heapq.nsmallest(compare_max, rules_only, key=_rank)
    listed = (*visits, *listed_monitored, *first_model_only, *first_rules_only)
    views = _score_views(session, scope, (row[SCORE_ID] for row in listed))
    summary = RegionSummary(
        region_code=scope.region_prefix,
        households=len(latest),
        by_level={level: levels.get(level.value, 0) for level in RiskLevel},
        top_risk_types=[
            RiskTypeCount(key, count, count / len(at_risk))
            for key, count in sorted(risk_types.items(), key=lambda item: (-item[1], item[0]))
        ],
        visit_list=[views[row[SCORE_ID]] for row in visits],
        latest_as_of=None if latest_as_of is None else _as_date(latest_as_of),
        synthetic=any(row[SYNTHETIC] for row in rows),
        newly_identifiable=len(fresh),
        by_status={status: statuses.get(status, 0) for status in STATUSES},
        monitored_list=[views[row[SCORE_ID]] for row in listed_monitored],
        expected_identifications=expected_identifications([row[PROBABILITY] for row in fresh]),
        latest_identifications_by_year=_identifications_by_year(rows),
        identifications_by_year=identifications_by_year(session, scope),
        risk_type_households=len(at_risk),
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
    """Households that could be newly identified, by level, for each of the latest `max_runs` scoring dates,
    oldest first (over every stored score, not only the latest: a household re-scored with the same date at
    another level counts at both). Households that were monitoring objects in a run are not counted in it."""
    rows = session.execute(
        select(
            HouseholdRun.as_of,
            type_coerce(HouseholdRun.level, String),
            func.count(func.distinct(HouseholdRun.household_pseudonym)),
        )
        .where(scope.filter(HouseholdRun.region_code), HouseholdRun.monitoring_status != MONITORED)
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
