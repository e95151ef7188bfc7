"""Keys, roles and region scope over HTTP; reads, model endpoints, health, and 503 when the database is down."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import hypothesis
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.app import create_app
from service.db import Database, open_database
from service.deps import get_caller, get_database
from service.keys import Caller
from service.model_holder import ModelHolder, RegistrySource
from service.scope import Scope
from service.settings import ServiceSettings
from service.tables import AuditEntry, Role, ScoreRecord
from tests.service.api_support import KEY, bearer
from tests.service.test_api_scores import _household_in, profile_row

# A county of the synthetic province with no households in the test city: "another county" for scope tests.
OTHER_COUNTY = "990199"


@pytest.fixture
def scored(client: TestClient, db: Database, batch_profiles: pd.DataFrame) -> dict[str, Any]:
    """One household of county 990101 outside monitoring (the summary counts new risk only), scored by a monitor
    of that county."""
    outside = batch_profiles[batch_profiles["monitoring_status"] != "monitored"]
    row = profile_row(outside, _household_in(outside, "990101"))
    response = client.post("/v1/profiles:score", json={"profiles": [row]}, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 200, response.text
    return row


@pytest.mark.parametrize(
    ("role", "score", "read", "model", "reload"),
    [
        (Role.MONITOR, 200, 200, 403, 403),
        (Role.OFFICIAL, 403, 200, 403, 403),
        (Role.SCIENTIST, 403, 403, 200, 403),
        (Role.ADMIN, 200, 200, 200, 200),
    ],
)
def test_roles(
    client: TestClient, db: Database, scored: dict[str, Any], role: Role, score: int, read: int, model: int, reload: int
) -> None:
    headers = bearer(db, role, "" if role is Role.ADMIN else "990101")
    assert client.post("/v1/profiles:score", json={"profiles": [scored]}, headers=headers).status_code == score
    assert client.get(f"/v1/households/{scored['household_id']}/scores", headers=headers).status_code == read
    assert client.get("/v1/regions/990101/summary", headers=headers).status_code == read
    assert client.get("/v1/model", headers=headers).status_code == model
    assert client.post("/v1/admin/model:reload", headers=headers).status_code == reload


def test_missing_or_wrong_keys_are_401(client: TestClient, db: Database) -> None:
    for headers in ({}, {"Authorization": "Bearer rr_000000000000_nope"}, {"X-API-Key": "garbage"}):
        response = client.get("/v1/regions/990101/summary", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
    headers = bearer(db, Role.OFFICIAL)
    key = headers["Authorization"].removeprefix("Bearer ")
    assert client.get("/v1/regions/990101/summary", headers={"X-API-Key": key}).status_code == 200


def test_history_and_summary_for_the_own_region(client: TestClient, db: Database, scored: dict[str, Any]) -> None:
    headers = bearer(db, Role.OFFICIAL)
    history = client.get(f"/v1/households/{scored['household_id']}/scores", headers=headers).json()
    assert [s["household_pseudonym"] for s in history["scores"]] == [scored["household_id"]]
    assert history["scores"][0]["synthetic"] is True
    summary = client.get("/v1/regions/990101/summary", headers=headers).json()
    assert summary["households"] == 1 and sum(summary["by_level"].values()) == 1
    assert summary["visit_list"][0]["household_pseudonym"] == scored["household_id"]


def test_another_county_cannot_score_or_see_a_household(
    client: TestClient, db: Database, scored: dict[str, Any]
) -> None:
    other = bearer(db, Role.MONITOR, OTHER_COUNTY)
    response = client.post("/v1/profiles:score", json={"profiles": [scored]}, headers=other)
    assert response.status_code == 403 and response.json()["field"] == "region_code"
    existing = client.get(f"/v1/households/{scored['household_id']}/scores", headers=other)
    unknown = client.get("/v1/households/H999999999/scores", headers=other)
    assert existing.status_code == unknown.status_code == 404
    assert existing.json() == unknown.json()  # not even the existence of the household is revealed
    assert client.get("/v1/regions/990101/summary", headers=other).status_code == 403
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ScoreRecord)) == 1


def test_households_score_refuses_documents_of_another_county(client: TestClient, db: Database) -> None:
    doc = {"household": {"household_id": "H1", "region_code": "990101001001"}}
    response = client.post(
        "/v1/households:score", json={"households": [doc]}, headers=bearer(db, Role.MONITOR, OTHER_COUNTY)
    )
    assert response.status_code == 403
    assert (response.json()["field"], response.json()["row"]) == ("household.region_code", 0)


def test_model_endpoint_reports_version_metrics_and_card(client: TestClient, db: Database, holder: ModelHolder) -> None:
    data = client.get("/v1/model", headers=bearer(db, Role.SCIENTIST)).json()
    assert holder.current is not None
    assert data["version"] == holder.current.version and data["source"] == "registry"
    assert data["synthetic"] is True and data["metrics"]
    reload = client.post("/v1/admin/model:reload", headers=bearer(db, Role.ADMIN, "")).json()
    assert reload == {"changed": False, "version": holder.current.version}


def test_health(client: TestClient, holder: ModelHolder) -> None:
    assert client.get("/health/live").json() == {"status": "live"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True and ready.json()["model_version"] == holder.current.version  # type: ignore[union-attr]


def test_not_ready_and_503_without_a_model(settings: ServiceSettings, db: Database, tmp_path: Path) -> None:
    empty = ModelHolder(RegistrySource(f"sqlite:///{tmp_path / 'no-registry' / 'mlflow.db'}"), tmp_path / "cache", None)
    empty.start = lambda: None  # type: ignore[method-assign] — nothing to load: stay without a model
    app = create_app(settings, holder=empty, database=db, pseudonym_key=KEY)
    with TestClient(app) as client:
        assert client.get("/health/ready").status_code == 503
        row = {"household_id": "H1", "region_code": "990101001001"}
        response = client.post("/v1/profiles:score", json={"profiles": [row]}, headers=bearer(db, Role.MONITOR))
        assert response.status_code == 503 and "Retry-After" in response.headers


def test_database_down_gives_503_with_retry_after_and_no_decision(
    settings: ServiceSettings, holder: ModelHolder, db: Database, batch_profiles: pd.DataFrame
) -> None:
    # Nothing listens on port 1: every connection fails, as with a stopped database server.
    down = open_database("postgresql+psycopg://nobody@127.0.0.1:1/none", settings)
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    app.dependency_overrides[get_database] = lambda: down
    app.dependency_overrides[get_caller] = lambda: Caller(None, Role.MONITOR, Scope("990101"))
    row = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    with TestClient(app) as client:
        response = client.post("/v1/profiles:score", json={"profiles": [row]})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == str(settings.retry_after_s)
        assert "probability" not in response.text and "items" not in response.json()
        ready = client.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["database"] is False
    down.dispose()
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_a_key_check_against_a_database_that_is_down_is_503(settings: ServiceSettings, holder: ModelHolder) -> None:
    down = open_database("postgresql+psycopg://nobody@127.0.0.1:1/none", settings)
    app = create_app(settings, holder=holder, database=down, pseudonym_key=KEY)
    row = {"household_id": "H1", "region_code": "990101001001"}
    with TestClient(app) as client:
        response = client.post(
            "/v1/profiles:score", json={"profiles": [row]}, headers={"Authorization": "Bearer rr_0123456789ab_x"}
        )
    assert response.status_code == 503 and "Retry-After" in response.headers
    down.dispose()


def test_a_key_check_does_not_wait_for_the_sqlite_write_lock(
    settings: ServiceSettings, holder: ModelHolder, tmp_path: Path
) -> None:
    """Key checks read outside the write lock: a long write elsewhere does not hold up reads (WAL)."""
    busy_settings, database = _own_sqlite(settings, tmp_path / "busy.db")
    headers = bearer(database, Role.SCIENTIST, "99")
    app = create_app(busy_settings, holder=holder, database=database, pseudonym_key=KEY)
    blocker = database.engine.raw_connection()
    try:
        blocker.cursor().execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        with TestClient(app) as client:
            assert client.get("/v1/model", headers=headers).status_code == 200
    finally:
        blocker.rollback()
        blocker.close()
    database.dispose()


def _own_sqlite(settings: ServiceSettings, path: Path) -> tuple[ServiceSettings, Database]:
    """A migrated SQLite file of the test's own, whose writers give up a held lock after 0.2 s."""
    from service.migrate import upgrade_database

    url = f"sqlite:///{path}"
    upgrade_database(url)
    own = settings.model_copy(update={"database_url": url, "sqlite_busy_timeout_s": 0.2})
    return own, open_database(url, own)


def test_not_ready_while_the_database_answers_reads_but_takes_no_writes(
    settings: ServiceSettings, holder: ModelHolder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.routers import health

    monkeypatch.setattr(health, "PROBE_INTERVAL_S", 0.0)  # probe on every call, so the test sees each state
    path = tmp_path / "probe.db"
    probe_settings, database = _own_sqlite(settings, path)
    app = create_app(probe_settings, holder=holder, database=database, pseudonym_key=KEY)
    with TestClient(app) as client:
        before = client.get("/health/ready")
        assert before.status_code == 200 and before.json()["writable"] is True
        database.engine.dispose()
        # An immutable file: every read answers, every write fails (as on a read-only or damaged volume).
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
            pytest.skip("chattr +i is not supported on this file system")
        try:
            ready = client.get("/health/ready")
            assert ready.status_code == 503, ready.text
            assert ready.json()["database"] is True and ready.json()["writable"] is False
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    database.dispose()


def test_reads_answer_while_another_writer_holds_the_lock(
    settings: ServiceSettings, holder: ModelHolder, tmp_path: Path, batch_profiles: pd.DataFrame
) -> None:
    busy_settings, database = _own_sqlite(settings, tmp_path / "busy.db")
    headers = bearer(database, Role.MONITOR)
    row = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    app = create_app(busy_settings, holder=holder, database=database, pseudonym_key=KEY)
    with TestClient(app) as client:
        assert client.post("/v1/profiles:score", json={"profiles": [row]}, headers=headers).status_code == 200
        blocker = database.engine.raw_connection()
        try:
            blocker.cursor().execute("BEGIN IMMEDIATE")  # a batch job's chunk, say, is being written
            history = client.get(f"/v1/households/{row['household_id']}/scores", headers=headers)
            assert history.status_code == 200 and len(history.json()["scores"]) == 1, history.text
            assert client.get("/v1/jobs", headers=headers).status_code == 200
            assert client.get("/health/ready").json()["database"] is True  # reads answer; writes wait
            blocked = client.post("/v1/profiles:score", json={"profiles": [row]}, headers=headers)
            assert blocked.status_code == 503  # a decision still needs the lock, and gets it or nothing
        finally:
            blocker.rollback()
            blocker.close()
    database.dispose()


def test_locked_sqlite_gives_503_and_no_decision(
    settings: ServiceSettings, holder: ModelHolder, tmp_path: Path, batch_profiles: pd.DataFrame
) -> None:
    locked_settings, database = _own_sqlite(settings, tmp_path / "locked.db")
    headers = bearer(database, Role.MONITOR)
    app = create_app(locked_settings, holder=holder, database=database, pseudonym_key=KEY)
    row = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    blocker = database.engine.raw_connection()
    try:
        blocker.cursor().execute("BEGIN EXCLUSIVE")  # another writer holds the lock
        with TestClient(app) as client:
            response = client.post("/v1/profiles:score", json={"profiles": [row]}, headers=headers)
        assert response.status_code == 503, response.text
        assert "Retry-After" in response.headers
    finally:
        blocker.rollback()
        blocker.close()
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ScoreRecord)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    database.dispose()


# Prefixes at several levels: same county, sibling county, other city, other province, and their parents.
PREFIXES = ["99", "9901", "990101", "990102", "9902", "990201", "98", "980101"]


@hypothesis.settings(
    max_examples=30, deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)
@hypothesis.given(
    key_prefix=hypothesis.strategies.sampled_from(PREFIXES),
    household_county=hypothesis.strategies.sampled_from([p for p in PREFIXES if len(p) == 6]),
)
def test_a_key_scores_and_sees_exactly_the_households_inside_its_prefix(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame, key_prefix: str, household_county: str
) -> None:
    row = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    row = {**row, "region_code": f"{household_county}001001", "county_code": None, "province_code": None}
    row["household_id"] = f"P{household_county}"
    inside = household_county.startswith(key_prefix)
    writer = bearer(db, Role.MONITOR, household_county)
    assert (
        client.post("/v1/profiles:score", json={"profiles": [row], "explain": False}, headers=writer).status_code == 200
    )
    reader = bearer(db, Role.MONITOR, key_prefix)
    scored = client.post("/v1/profiles:score", json={"profiles": [row], "explain": False}, headers=reader)
    assert scored.status_code == (200 if inside else 403)
    history = client.get(f"/v1/households/{row['household_id']}/scores", headers=reader)
    assert history.status_code == (200 if inside else 404)
    if inside:
        assert {s["region_code"] for s in history.json()["scores"]} == {row["region_code"]}
