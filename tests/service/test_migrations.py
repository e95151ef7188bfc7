"""Migrations: from empty to head and back, on SQLite and PostgreSQL, and head matches the ORM models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from service.db import create_db_engine
from service.migrate import current_revision, downgrade_database, head_revision, upgrade_database
from service.tables import Base

TABLES = {"api_keys", "audit_entries", "score_records", "jobs", "job_chunks"}


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
    assert current_revision(database_url) == head_revision() == "0001"


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
