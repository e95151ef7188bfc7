"""Retention: `service.retention.purge` and `relapse purge` on SQLite and PostgreSQL.

Each case stores scores through the store, backdates some of them in SQL, purges, and checks row by row what is
left against what the rules say by hand: old non-latest scores go, latest scores and the largest id stay, scores
the alert dispatcher has not read stay, the feed cursor keeps working, and the purge is one audit entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from relapse.cli import app
from service.db import Database, open_database
from service.errors import InvalidFieldError
from service.feed import scores_after
from service.retention import (
    PURGE_MARKER,
    Cutoffs,
    PurgeCounts,
    count_purgeable,
    cutoffs_before,
    cutoffs_from_settings,
    purge,
)
from service.scope import Scope
from service.settings import ServiceSettings, get_settings
from service.store import record_scores, region_summary
from service.tables import (
    AlertCursor,
    AuditEntry,
    HouseholdRun,
    HouseholdSources,
    LatestScore,
    RiskLevel,
    Role,
    ScoreRecord,
)
from tests.service.factories import make_caller, make_score

COUNTY = Scope("990101")
VILLAGE = "990101001001"
OLD = datetime(2020, 1, 1, tzinfo=UTC)
CUT = datetime(2021, 1, 1, tzinfo=UTC)


def _store(db: Database, *scores: tuple[str, date, RiskLevel]) -> list[int]:
    """Store one score per (household, as_of, level), in this order; their ids."""
    with db.session() as session:
        caller = make_caller(session, Role.MONITOR, "990101")
        first = int(session.scalar(select(func.max(ScoreRecord.id))) or 0)
        for pseudonym, as_of, level in scores:
            probability = {RiskLevel.HIGH: 0.5, RiskLevel.MEDIUM: 0.05, RiskLevel.LOW: 0.01}[level]
            record_scores(
                session,
                COUNTY,
                caller,
                [make_score(pseudonym, VILLAGE, as_of=as_of, level=level, probability=probability)],
            )
        return list(session.scalars(select(ScoreRecord.id).where(ScoreRecord.id > first).order_by(ScoreRecord.id)))


def _backdate(db: Database, when: datetime = OLD) -> None:
    """Everything stored so far was stored at `when` (scores and their audit entries)."""
    with db.session() as session:
        session.execute(update(ScoreRecord).values(scored_at=when))
        session.execute(update(LatestScore).values(scored_at=when))
        session.execute(update(AuditEntry).values(at=when))


def _ids(db: Database) -> set[int]:
    with db.session() as session:
        return set(session.scalars(select(ScoreRecord.id)))


def _runs(db: Database) -> set[tuple[date, str, str]]:
    with db.session() as session:
        rows = session.execute(select(HouseholdRun.as_of, HouseholdRun.level, HouseholdRun.household_pseudonym))
        return {(as_of, str(level), pseudonym) for as_of, level, pseudonym in rows}


def _purge_records(db: Database) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.model_version == PURGE_MARKER).order_by(AuditEntry.id)
        )
        return [{"role": r.role, "key_id": r.key_id, "household": r.household_pseudonym, **r.reasons[0]} for r in rows]


JAN, JUN, DEC = date(2024, 1, 31), date(2024, 6, 30), date(2024, 12, 31)


@pytest.mark.parametrize("batch", [1, 2, 5000])
def test_old_scores_go_but_each_households_latest_stays(db: Database, batch: int) -> None:
    a_jan, a_jun, b_jun, c_jan, c_jun, c_dec, d_jan = _store(
        db,
        ("hhA", JAN, RiskLevel.LOW),
        ("hhA", JUN, RiskLevel.HIGH),
        ("hhB", JUN, RiskLevel.MEDIUM),
        ("hhC", JAN, RiskLevel.LOW),
        ("hhC", JUN, RiskLevel.LOW),
        ("hhC", DEC, RiskLevel.MEDIUM),
        ("hhD", JAN, RiskLevel.LOW),
    )
    _backdate(db)
    (recent,) = _store(db, ("hhD", DEC, RiskLevel.HIGH))  # stored now, after the cut-off; hhD's latest
    with db.session() as session:
        summary_before = region_summary(session, COUNTY, VILLAGE)
    # By hand: every score but `recent` is old; the latest are a_jun, b_jun, c_dec and recent.
    assert count_purgeable(db, Cutoffs(CUT, None)) == PurgeCounts(scores=4)

    done = purge(db, Cutoffs(CUT, None), operator="ops", batch=batch)

    # The four deleted scores were each the only score of their (as_of, level, household) run.
    assert done == PurgeCounts(scores=4, household_runs=4, audit_entries=0)
    assert _ids(db) == {a_jun, b_jun, c_dec, recent}, (a_jan, c_jan, c_jun, d_jan)
    assert _runs(db) == {(JUN, "high", "hhA"), (JUN, "medium", "hhB"), (DEC, "medium", "hhC"), (DEC, "high", "hhD")}
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 8 + 1  # no audit cut-off here
        assert region_summary(session, COUNTY, VILLAGE) == summary_before
    (record,) = _purge_records(db)
    assert record["complete"] is True and record["deleted"] == {
        "scores": 4,
        "household_runs": 4,
        "audit_entries": 0,
        "household_sources": 0,
    }
    assert record["operator"] == "ops" and record["role"] is Role.ADMIN and record["key_id"] is None
    assert record["household"] == "" and record["scores_before"] == CUT.isoformat() and record["audit_before"] is None
    assert count_purgeable(db, Cutoffs(CUT, None)) == PurgeCounts()


def test_kept_household_rows_go_with_the_scores_cut_off(db: Database) -> None:
    with db.session() as session:
        for pseudonym in ("hhOld", "hhNew"):
            session.add(
                HouseholdSources(
                    household_pseudonym=pseudonym, region_code=VILLAGE, as_of=JUN, tables={"households": []}
                )
            )
    with db.session() as session:
        session.execute(
            update(HouseholdSources).where(HouseholdSources.household_pseudonym == "hhOld").values(stored_at=OLD)
        )
    assert count_purgeable(db, Cutoffs(None, CUT)) == PurgeCounts()  # only the audit cut-off: rows stay
    assert count_purgeable(db, Cutoffs(CUT, None)) == PurgeCounts(household_sources=1)
    assert purge(db, Cutoffs(CUT, None), operator="ops", batch=1) == PurgeCounts(household_sources=1)
    with db.session() as session:
        assert list(session.scalars(select(HouseholdSources.household_pseudonym))) == ["hhNew"]
    (record,) = _purge_records(db)
    assert record["deleted"]["household_sources"] == 1


def test_a_run_keeps_its_row_while_another_score_of_it_is_left(db: Database) -> None:
    first, second, latest = _store(
        db, ("hhA", JAN, RiskLevel.LOW), ("hhA", JAN, RiskLevel.LOW), ("hhA", JUN, RiskLevel.LOW)
    )
    _backdate(db)
    with db.session() as session:  # `second` was stored after the cut-off
        session.execute(update(ScoreRecord).where(ScoreRecord.id == second).values(scored_at=CUT + timedelta(days=1)))
    _store(db, ("hhZ", JUN, RiskLevel.LOW))  # so that `latest` is not the largest id

    assert purge(db, Cutoffs(CUT, None), operator="ops") == PurgeCounts(scores=1, household_runs=0)
    assert first not in _ids(db) and {second, latest} <= _ids(db)
    assert (JAN, "low", "hhA") in _runs(db)


def test_the_largest_id_stays_so_a_feed_cursor_never_skips_the_next_score(db: Database) -> None:
    # A late back-fill: the household's latest score (June) has the smaller id, the January one the largest.
    june, january = _store(db, ("hhE", JUN, RiskLevel.LOW), ("hhE", JAN, RiskLevel.LOW))
    _backdate(db)
    with db.session() as session:
        page = scores_after(session, COUNTY, None, 10)  # a reader that has read everything
    assert page.cursor == str(january)

    assert purge(db, Cutoffs(CUT, None), operator="ops").scores == 0
    assert _ids(db) == {june, january}
    (new,) = _store(db, ("hhE", DEC, RiskLevel.HIGH))
    with db.session() as session:
        assert [view.id for view, _ in scores_after(session, COUNTY, page.cursor, 10).items] == [new]


def test_scores_the_alert_dispatcher_has_not_read_stay(db: Database) -> None:
    read, unread, latest, other = _store(
        db,
        ("hhF", JAN, RiskLevel.LOW),
        ("hhF", JUN, RiskLevel.LOW),
        ("hhF", DEC, RiskLevel.LOW),
        ("hhG", JUN, RiskLevel.LOW),
    )
    _backdate(db)
    with db.session() as session:
        session.add(AlertCursor(id=1, score_id=read))

    assert count_purgeable(db, Cutoffs(CUT, None)).scores == 1
    assert purge(db, Cutoffs(CUT, None), operator="ops").scores == 1
    assert _ids(db) == {unread, latest, other}


def test_audit_entries_go_by_their_own_cut_off_and_purge_records_stay(db: Database) -> None:
    _store(db, ("hhA", JAN, RiskLevel.LOW), ("hhA", JUN, RiskLevel.LOW))
    _backdate(db)
    _store(db, ("hhB", JUN, RiskLevel.LOW))  # its audit entry is recent

    first = purge(db, Cutoffs(None, CUT), operator="ops", batch=1)
    assert first == PurgeCounts(audit_entries=2)
    assert len(_ids(db)) == 3  # scores have no cut-off here

    _backdate(db)  # the first purge's record is now old too, and so is hhB's entry
    second = purge(db, Cutoffs(None, CUT), operator="ops")
    assert second == PurgeCounts(audit_entries=1)
    records = _purge_records(db)
    assert [r["deleted"]["audit_entries"] for r in records] == [2, 1]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 2  # the two purge records


def test_an_interrupted_purge_leaves_an_incomplete_record(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    _store(db, ("hhA", JAN, RiskLevel.LOW), ("hhA", JUN, RiskLevel.LOW), ("hhB", JUN, RiskLevel.LOW))
    _backdate(db)

    def stop(_counts: PurgeCounts) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        purge(db, Cutoffs(CUT, CUT), operator="ops", batch=1, progress=stop)
    (record,) = _purge_records(db)
    assert record["complete"] is False
    assert record["planned"] == {"scores": 1, "household_runs": 0, "audit_entries": 3, "household_sources": 0}


def test_cut_offs_from_a_day_and_from_the_settings(tmp_path: Path) -> None:
    now = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    assert cutoffs_before(date(2025, 1, 1), now) == Cutoffs(
        datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    )
    with pytest.raises(InvalidFieldError, match="before: lies in the future"):
        cutoffs_before(date(2026, 12, 8), now)
    with pytest.raises(InvalidFieldError, match="retention: is not set"):
        cutoffs_from_settings(ServiceSettings(data_dir=tmp_path), now)
    settings = ServiceSettings(data_dir=tmp_path, retention_days_scores=30)
    assert cutoffs_from_settings(settings, now) == Cutoffs(datetime(2026, 11, 7, 4, 0, tzinfo=UTC), None)
    with pytest.raises(ValueError, match="retention_days_audit"):
        ServiceSettings(data_dir=tmp_path, retention_days_audit=0)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RELAPSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RELAPSE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def test_the_command_is_a_dry_run_unless_told_yes(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["keys", "list"]).exit_code == 0  # creates and migrates the database
    db = open_database(get_settings().database_url, get_settings())
    try:
        _store(db, ("hhA", JAN, RiskLevel.LOW), ("hhA", JUN, RiskLevel.LOW), ("hhB", JUN, RiskLevel.LOW))
        _backdate(db)

        dry = runner.invoke(app, ["purge", "--before", "2021-01-01"])
        assert dry.exit_code == 0, dry.output
        assert "would delete 1 scores and 3 audit entries" in dry.output
        assert len(_ids(db)) == 3 and _purge_records(db) == []

        done = runner.invoke(app, ["purge", "--before", "2021-01-01", "--yes"])
        assert done.exit_code == 0, done.output
        assert "deleted 1 scores, 1 scoring runs and 3 audit entries" in done.output
        assert len(_ids(db)) == 2 and len(_purge_records(db)) == 1

        neither = runner.invoke(app, ["purge"])
        assert isinstance(neither.exception, InvalidFieldError) and "--retention" in str(neither.exception)
        unset = runner.invoke(app, ["purge", "--retention", "--yes"])
        assert isinstance(unset.exception, InvalidFieldError) and "RELAPSE_RETENTION_DAYS_SCORES" in str(
            unset.exception
        )

        monkeypatch.setenv("RELAPSE_RETENTION_DAYS_AUDIT", "1")
        get_settings.cache_clear()
        by_settings = runner.invoke(app, ["purge", "--retention"])
        assert by_settings.exit_code == 0, by_settings.output
        assert "scores: kept (no cut-off)" in by_settings.output
        assert "would delete 0 scores and 0 audit entries" in by_settings.output  # only the purge record is left
    finally:
        db.dispose()
