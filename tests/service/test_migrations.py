"""Migrations: from empty to head and back, on SQLite and PostgreSQL, head matches the ORM models, and 0002 fills
the narrow report tables from stored scores exactly as the write path fills them."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from service.db import create_db_engine, open_database
from service.migrate import current_revision, downgrade_database, head_revision, upgrade_database
from service.settings import ServiceSettings
from service.tables import Base, HouseholdRun, LatestScore, ScoreRecord
from tests.service.test_reports_latest import store_random_data

TABLES = {
    "api_keys",
    "audit_entries",
    "score_records",
    "jobs",
    "job_chunks",
    "latest_scores",
    "household_runs",
    "village_references",
    "ended_sessions",
    "health_probe",
    "region_identifications",
    "visits",
    "subscriptions",
    "deliveries",
    "alert_cursor",
    "idempotency_keys",
    "household_events",
    "household_sources",
    "issued_lists",
    "issued_list_rows",
}


def _tables(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_on_an_empty_database_creates_every_table(database_url: str) -> None:
    assert current_revision(database_url) is None
    upgrade_database(database_url)
    assert _tables(database_url) == TABLES | {"alembic_version"}
    assert current_revision(database_url) == head_revision() == "0014"


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade_database(database_url)
    upgrade_database(database_url)
    assert current_revision(database_url) == head_revision()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_base_removes_every_table(database_url: str) -> None:
    upgrade_database(database_url)
    downgrade_database(database_url)
    assert _tables(database_url) & TABLES == set()
    assert current_revision(database_url) is None
    upgrade_database(database_url)  # and back up again
    assert _tables(database_url) >= TABLES


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'service.db'}"  # the folder is created on demand
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def _narrow_rows(url: str, folder: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], int]:
    database = open_database(url, ServiceSettings(data_dir=folder, database_url=url))
    try:
        with database.session() as session:
            latest = [
                tuple(row) for row in session.execute(select(LatestScore.__table__).order_by(LatestScore.score_id))
            ]
            runs = session.execute(select(HouseholdRun.__table__)).all()
            scores = session.scalar(select(func.count()).select_from(ScoreRecord)) or 0
    finally:
        database.dispose()
    return latest, sorted(tuple(row) for row in runs), scores


def test_0002_fills_the_report_tables_from_stored_scores_as_the_write_path_does(
    database_url: str, tmp_path: Path
) -> None:
    upgrade_database(database_url)
    database = open_database(database_url, ServiceSettings(data_dir=tmp_path, database_url=database_url))
    try:
        # Written by the service: scores and their narrow rows together. Without statuses: the downgrade below
        # 0004 drops them, and what 0002 fills must equal what was written.
        store_random_data(database, 6, statuses=False)
    finally:
        database.dispose()
    latest, runs, scores = _narrow_rows(database_url, tmp_path)
    assert len(latest) > 70 and len(runs) > len(latest) and scores > len(runs)  # households in two villages

    downgrade_database(database_url, "0001")
    assert current_revision(database_url) == "0001"
    assert _tables(database_url) == TABLES - {
        "latest_scores",
        "household_runs",
        "village_references",
        "ended_sessions",
        "health_probe",
        "region_identifications",
        "visits",
        "subscriptions",
        "deliveries",
        "alert_cursor",
        "idempotency_keys",
        "household_events",
        "household_sources",
        "issued_lists",
        "issued_list_rows",
    } | {"alembic_version"}
    upgrade_database(database_url)  # 0002 again, now filling the tables from the stored scores
    assert _narrow_rows(database_url, tmp_path) == (latest, runs, scores)
