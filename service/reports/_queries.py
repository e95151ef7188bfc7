"""Reads the reports need beyond `service.store`: the trend across scoring runs and rules versus model.

Like `service.store`, every query filters by the caller's `Scope` in SQL and returns plain values. Both work on
each household's latest score (the same definition as `region_summary`), so a report's numbers agree.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy import String, case, cast, func, select, type_coerce
from sqlalchemy.orm import Session, aliased

from service._scores import ScoreView
from service._summary import REASON_BATCH, RegionSummary, RiskTypeCount, _latest_scores
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


@dataclass(frozen=True)
class RegionData:
    """Everything a region report shows, computed together."""

    summary: RegionSummary
    trend: list[TrendPoint]
    model_only: Disagreement
    rules_only: Disagreement


_REASON_KEY: Final = re.compile(r'"key":\s*"((?:[^"\\]|\\.)*)"')


def score_rows(session: Session, scope: Scope, after_id: int = 0) -> Any:
    """(id, pseudonym, as_of text, level text, probability, synthetic, reasons JSON text, any flag 0/1) of the
    region's scores with an id above `after_id`. Core rows and raw text: the ORM's per-row work doubled the time."""
    flagged = case((cast(ScoreRecord.rule_flags, String).like("%true%"), 1), else_=0)
    return session.connection().execute(
        select(
            ScoreRecord.id,
            ScoreRecord.household_pseudonym,
            type_coerce(ScoreRecord.as_of, String),
            type_coerce(ScoreRecord.level, String),
            ScoreRecord.probability,
            ScoreRecord.synthetic,
            cast(ScoreRecord.reasons, String),
            flagged,
        )
        .where(scope.filter(ScoreRecord.region_code), ScoreRecord.id > after_id)
        .execution_options(yield_per=REASON_BATCH)
    )


@dataclass(frozen=True, slots=True)
class _Latest:
    id: int
    as_of: str
    level: RiskLevel
    probability: float
    synthetic: bool
    reason_keys: frozenset[str]
    flagged: bool


_LEVELS: Final = {level.value: level for level in RiskLevel}


class RegionAccumulator:
    """Each household's latest score in a region and the runs' level counts, fed with score rows in any order.

    `add` may be called again with rows stored later (the cache merges new scores this way instead of reading
    the region again); the result is the same as feeding every row at once.
    """

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.rows = 0
        self.max_id = 0
        self.latest: dict[str, _Latest] = {}
        self.per_run: dict[tuple[str, str], set[str]] = {}

    def add(self, rows: Any) -> int:
        added = 0
        latest, per_run = self.latest, self.per_run
        for row_id, pseudonym, as_of, level, probability, synthetic, reasons, flagged in rows:
            as_of = str(as_of)
            added += 1
            self.max_id = max(self.max_id, row_id)
            key = (as_of, str(level))
            run = per_run.get(key)
            if run is None:
                run = per_run[key] = set()
            run.add(pseudonym)
            seen = latest.get(pseudonym)
            if seen is None or (as_of, row_id) > (seen.as_of, seen.id):
                latest[pseudonym] = _Latest(
                    row_id,
                    as_of,
                    _LEVELS[str(level)],
                    float(probability),
                    bool(synthetic),
                    frozenset(_REASON_KEY.findall(reasons or "")),
                    bool(flagged),
                )
        self.rows += added
        return added

    def result(self, session: Session, visit_max: int, compare_max: int) -> RegionData:
        by_level = dict.fromkeys(RiskLevel, 0)
        risk_types: Counter[str] = Counter()
        everyone, model_only, rules_only = [], [], []
        synthetic = False
        latest_as_of = ""
        for pseudonym, item in self.latest.items():
            by_level[item.level] += 1
            synthetic = synthetic or item.synthetic
            if item.as_of > latest_as_of:
                latest_as_of = item.as_of
            risk_types.update(item.reason_keys)
            entry = (-item.probability, pseudonym, item.id)
            everyone.append(entry)
            if item.level is RiskLevel.HIGH and not item.flagged:
                model_only.append(entry)
            elif item.level is RiskLevel.LOW and item.flagged:
                rules_only.append(entry)
        visits = heapq.nsmallest(visit_max, everyone)
        first_model_only = heapq.nsmallest(compare_max, model_only)
        first_rules_only = heapq.nsmallest(compare_max, rules_only)
        wanted = {entry[2] for entry in (*visits, *first_model_only, *first_rules_only)}
        views = {
            row.id: ScoreView.of(row) for row in session.scalars(select(ScoreRecord).where(ScoreRecord.id.in_(wanted)))
        }
        summary = RegionSummary(
            region_code=self.scope.region_prefix,
            households=len(self.latest),
            by_level=by_level,
            top_risk_types=[
                RiskTypeCount(key, count)
                for key, count in sorted(risk_types.items(), key=lambda item: (-item[1], item[0]))
            ],
            visit_list=[views[entry[2]] for entry in visits],
            latest_as_of=date.fromisoformat(latest_as_of[:10]) if latest_as_of else None,
            synthetic=synthetic,
        )
        runs = sorted({as_of for as_of, _ in self.per_run})[-MAX_RUNS:]
        trend = [
            TrendPoint(
                date.fromisoformat(run[:10]),
                {level: len(self.per_run.get((run, level.value), ())) for level in RiskLevel},
            )
            for run in runs
        ]
        return RegionData(
            summary,
            trend,
            Disagreement(len(model_only), [views[entry[2]] for entry in first_model_only]),
            Disagreement(len(rules_only), [views[entry[2]] for entry in first_rules_only]),
        )


def region_data(session: Session, scope: Scope, visit_max: int, compare_max: int) -> RegionData:
    """The region report's data from one pass over the region's scores (plus one read of the listed households).

    The same numbers as `region_summary`, `level_trend` and `rules_versus_model` (a test checks this against
    them), but those read the region's wide rows (JSON reasons and measures) once per figure; this reads them
    once, and only the small columns and the raw JSON text. A household's latest score is its latest `as_of`,
    then its latest stored row (largest id: rows are appended in time order). Reason keys are taken from the
    stored JSON text and a rule flag is raised when the flags' text contains `true`, as in `rules_versus_model`.
    """
    accumulator = RegionAccumulator(scope)
    accumulator.add(score_rows(session, scope))
    return accumulator.result(session, visit_max, compare_max)
