"""Service tests run on SQLite and on a real PostgreSQL server, each test on its own empty database.

PostgreSQL comes from `RELAPSE_TEST_POSTGRES_URL` (`scripts/start-postgres.sh` prints one). Without it the
PostgreSQL cases are skipped on a developer's machine but fail when `CI` is set, so CI never skips them silently.
Every PostgreSQL database is a schema of its own (chosen through the connection's search_path), so parallel
workers never see each other's tables. Migration tests get a fresh empty database each (`database_url`); the
others share one migrated database per backend and worker, emptied before every test (`db`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from service.db import Database, create_db_engine, open_database
from service.migrate import upgrade_database
from service.settings import ServiceSettings
from service.tables import Base

POSTGRES_ENV = "RELAPSE_TEST_POSTGRES_URL"


def postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"{POSTGRES_ENV} is not set (start a server with scripts/start-postgres.sh)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(message)
    return url


def with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]


@contextmanager
def _empty_database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'service-{uuid.uuid4().hex[:8]}.db'}"
        return
    base = postgres_base_url()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_db_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield with_search_path(base, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (no tables yet) on each backend."""
    with _empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per test session and backend; `db` empties it before every test."""
    with _empty_database(request.param, tmp_path_factory.mktemp("service-db")) as url:
        upgrade_database(url)
        yield url


@pytest.fixture
def db(migrated_url: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated service database with no rows (much faster than migrating for every test)."""
    database = open_database(migrated_url, ServiceSettings(data_dir=tmp_path, database_url=migrated_url))
    tables = [table.name for table in Base.metadata.sorted_tables]
    with database.engine.begin() as connection:  # DELETE beats TRUNCATE on PostgreSQL for a handful of rows
        for name in reversed(tables):
            connection.execute(text(f"DELETE FROM {name}"))
    yield database
    database.dispose()


# The API tests' model, holder and clients: defined once here so that every module (and each xdist worker) trains
# the small test model once per session, not once per importing module.
from tests.service.api_support import (  # noqa: E402, F401
    batch_profiles,
    client,
    county_folder,
    holder,
    jobs_client,
    registered,
    settings,
)
