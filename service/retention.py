"""Retention: deleting stored scores and audit entries older than a cut-off, in batches, with an audit entry.

The scores' cut-off also deletes the source rows kept for re-scoring on events (`household_sources`) last stored
before it: they are what those scores were built from, and hold health-related amounts. Such a household's next
event waits for its next document, as one never scored from a document does.

What is kept whatever the cut-off, and why:
- each household's latest score per village (`latest_scores` points at it): region reports, summaries and the
  work lists read it, and a household that was scored once must not vanish from its village's report;
- the score with the largest id: SQLite gives a new row the largest id plus one, so deleting the largest would
  hand its id to the next score, and a feed reader holding that id as its cursor would never see the new score;
- scores the alert dispatcher has not read yet (id above its cursor): they would otherwise never be announced;
- purge records themselves: they hold no personal data and are the only trace that rows were deleted.

A purge is recorded as one row of `audit_entries` (`model_version` "purge", no household, the local operator's
role; `probability` 0 and `level` low only because the table requires them) before anything is deleted, and
completed with the counts when the last batch is committed; an interrupted purge leaves its record incomplete.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, and_, delete, exists, func, insert, select, update

from service.db import Database
from service.errors import InvalidFieldError
from service.settings import ServiceSettings
from service.tables import (
    AlertCursor,
    AuditEntry,
    HouseholdRun,
    HouseholdSources,
    LatestScore,
    RiskLevel,
    Role,
    ScoreRecord,
    utcnow,
)

PURGE_MARKER: Final = "purge"  # the `model_version` of a purge record; a model version is always "name/version"
BATCH: Final = 5000

SCORES = cast(Table, ScoreRecord.__table__)
AUDIT = cast(Table, AuditEntry.__table__)
RUNS = cast(Table, HouseholdRun.__table__)
LATEST = cast(Table, LatestScore.__table__)
SOURCES = cast(Table, HouseholdSources.__table__)


@dataclass(frozen=True)
class Cutoffs:
    """Rows stored before these instants go; `None` keeps every row of that table."""

    scores_before: datetime | None
    audit_before: datetime | None


@dataclass(frozen=True)
class PurgeCounts:
    scores: int = 0
    household_runs: int = 0
    audit_entries: int = 0
    household_sources: int = 0


def cutoffs_before(day: date, now: datetime | None = None) -> Cutoffs:
    """Both tables cut at the start of `day` (UTC); a day in the future is refused."""
    instant = datetime.combine(day, time(0), tzinfo=UTC)
    if instant > (now or utcnow()):
        raise InvalidFieldError("before", "lies in the future; a purge deletes only what is already stored")
    return Cutoffs(instant, instant)


def cutoffs_from_settings(settings: ServiceSettings, now: datetime | None = None) -> Cutoffs:
    """The cut-offs the retention settings give today; both settings unset is an error."""
    now = now or utcnow()
    scores_days, audit_days = settings.retention_days_scores, settings.retention_days_audit
    if scores_days is None and audit_days is None:
        raise InvalidFieldError(
            "retention", "is not set (RELAPSE_RETENTION_DAYS_SCORES, RELAPSE_RETENTION_DAYS_AUDIT): everything is kept"
        )
    return Cutoffs(
        None if scores_days is None else now - timedelta(days=scores_days),
        None if audit_days is None else now - timedelta(days=audit_days),
    )


@dataclass(frozen=True)
class _Plan:
    cutoffs: Cutoffs
    last_score_id: int  # scores with an id at or above this stay
    last_audit_id: int  # and audit entries above this (the purge's own record comes later)


def _plan(connection: Connection, cutoffs: Cutoffs) -> _Plan:
    largest = int(connection.scalar(select(func.max(SCORES.c.id))) or 0)
    bound = largest
    cursor = connection.scalar(select(AlertCursor.score_id).where(AlertCursor.id == 1))
    if cursor is not None:
        bound = min(bound, int(cursor) + 1)
    return _Plan(cutoffs, bound, int(connection.scalar(select(func.max(AUDIT.c.id))) or 0))


def _purgeable_scores(plan: _Plan) -> Any:
    assert plan.cutoffs.scores_before is not None
    latest = exists().where(LATEST.c.score_id == SCORES.c.id)
    return and_(SCORES.c.scored_at < plan.cutoffs.scores_before, SCORES.c.id < plan.last_score_id, ~latest)


def _purgeable_audit(plan: _Plan) -> Any:
    assert plan.cutoffs.audit_before is not None
    return and_(
        AUDIT.c.at < plan.cutoffs.audit_before, AUDIT.c.id <= plan.last_audit_id, AUDIT.c.model_version != PURGE_MARKER
    )


def count_purgeable(database: Database, cutoffs: Cutoffs) -> PurgeCounts:
    """What a purge with these cut-offs would delete now (scores and audit entries; runs are only known after)."""
    with database.read() as connection:
        plan = _plan(connection, cutoffs)
        scores = audit = sources = 0
        if cutoffs.scores_before is not None:
            scores = int(connection.scalar(select(func.count()).where(_purgeable_scores(plan))) or 0)
            old = SOURCES.c.stored_at < cutoffs.scores_before
            sources = int(connection.scalar(select(func.count()).select_from(SOURCES).where(old)) or 0)
        if cutoffs.audit_before is not None:
            audit = int(connection.scalar(select(func.count()).where(_purgeable_audit(plan))) or 0)
    return PurgeCounts(scores=scores, audit_entries=audit, household_sources=sources)


def purge(
    database: Database,
    cutoffs: Cutoffs,
    *,
    operator: str,
    batch: int = BATCH,
    progress: Callable[[PurgeCounts], None] | None = None,
) -> PurgeCounts:
    """Delete what `cutoffs` allow, `batch` rows per transaction, under one purge record naming `operator`."""
    planned = count_purgeable(database, cutoffs)
    with database.transaction() as connection:
        plan = _plan(connection, cutoffs)
        record_id = _write_record(connection, cutoffs, operator=operator, planned=planned)
    done = PurgeCounts()
    if cutoffs.scores_before is not None:
        while True:
            with database.transaction() as connection:
                scores, runs = _delete_scores(connection, plan, batch)
            done = PurgeCounts(done.scores + scores, done.household_runs + runs, done.audit_entries)
            if progress is not None:
                progress(done)
            if scores < batch:
                break
        while True:
            with database.transaction() as connection:
                sources = _delete_sources(connection, cutoffs.scores_before, batch)
            done = PurgeCounts(done.scores, done.household_runs, done.audit_entries, done.household_sources + sources)
            if sources < batch:
                break
    if cutoffs.audit_before is not None:
        while True:
            with database.transaction() as connection:
                ids = connection.scalars(
                    select(AUDIT.c.id).where(_purgeable_audit(plan)).order_by(AUDIT.c.id).limit(batch)
                ).all()
                if ids:
                    connection.execute(delete(AUDIT).where(AUDIT.c.id.in_(ids)))
            done = PurgeCounts(done.scores, done.household_runs, done.audit_entries + len(ids), done.household_sources)
            if progress is not None:
                progress(done)
            if len(ids) < batch:
                break
    with database.transaction() as connection:
        _complete_record(connection, record_id, done)
    return done


def _delete_scores(connection: Connection, plan: _Plan, batch: int) -> tuple[int, int]:
    """One batch of scores, then the scoring runs (`household_runs`) none of whose scores is left."""
    rows = connection.execute(
        select(SCORES.c.id, SCORES.c.as_of, SCORES.c.level, SCORES.c.household_pseudonym, SCORES.c.region_code)
        .where(_purgeable_scores(plan))
        .order_by(SCORES.c.id)
        .limit(batch)
    ).all()
    if not rows:
        return 0, 0
    connection.execute(delete(SCORES).where(SCORES.c.id.in_([row.id for row in rows])))
    runs = {(row.as_of, row.level, row.household_pseudonym, row.region_code) for row in rows}
    left = exists().where(
        SCORES.c.household_pseudonym == RUNS.c.household_pseudonym,
        SCORES.c.region_code == RUNS.c.region_code,
        SCORES.c.as_of == RUNS.c.as_of,
        SCORES.c.level == RUNS.c.level,
    )
    removed = 0
    for as_of, level, pseudonym, region in sorted(runs):
        result = connection.execute(
            delete(RUNS).where(
                RUNS.c.as_of == as_of,
                RUNS.c.level == level,
                RUNS.c.household_pseudonym == pseudonym,
                RUNS.c.region_code == region,
                ~left,
            )
        )
        removed += result.rowcount
    return len(rows), removed


def _delete_sources(connection: Connection, before: datetime, batch: int) -> int:
    """One batch of kept household rows last stored before `before`."""
    keys = connection.execute(
        select(SOURCES.c.region_code, SOURCES.c.household_pseudonym)
        .where(SOURCES.c.stored_at < before)
        .order_by(SOURCES.c.region_code, SOURCES.c.household_pseudonym)
        .limit(batch)
    ).all()
    for region, pseudonym in keys:
        connection.execute(
            delete(SOURCES).where(SOURCES.c.region_code == region, SOURCES.c.household_pseudonym == pseudonym)
        )
    return len(keys)


def _write_record(connection: Connection, cutoffs: Cutoffs, *, operator: str, planned: PurgeCounts) -> int:
    """Who purges, when, with which cut-offs and what the count was; no household, so no personal data."""
    reasons = [
        {
            "key": PURGE_MARKER,
            "operator": operator,
            "scores_before": None if cutoffs.scores_before is None else cutoffs.scores_before.isoformat(),
            "audit_before": None if cutoffs.audit_before is None else cutoffs.audit_before.isoformat(),
            "complete": False,
            "planned": asdict(planned),
        }
    ]
    digest = hashlib.sha256(json.dumps(reasons, sort_keys=True).encode()).hexdigest()
    return int(
        connection.scalar(
            insert(AUDIT)
            .values(
                at=utcnow(),
                key_id=None,
                role=Role.ADMIN,
                region_code="",
                household_pseudonym="",
                input_hash=f"sha256:{digest}",
                model_version=PURGE_MARKER,
                probability=0.0,
                level=RiskLevel.LOW,
                reasons=reasons,
                request_id=f"purge-{uuid.uuid4().hex}",
            )
            .returning(AUDIT.c.id)
        )
    )


def _complete_record(connection: Connection, record_id: int, done: PurgeCounts) -> None:
    reasons: list[dict[str, Any]] = connection.scalar(select(AUDIT.c.reasons).where(AUDIT.c.id == record_id)) or []
    entry = dict(reasons[0])
    entry.pop("planned", None)
    entry["deleted"] = asdict(done)
    entry["complete"] = True
    connection.execute(update(AUDIT).where(AUDIT.c.id == record_id).values(reasons=[entry]))
