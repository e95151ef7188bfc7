"""Upgrades with data in place: a database built at each earlier revision, filled with rows of that revision's
tables in plain SQL (not the ORM models, which describe head), upgraded to head — every row survives with its
values, columns added later read their documented defaults, and 0002 fills the report tables from the stored
scores. And back down: each downgrade step keeps every row of the tables it does not remove."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from service.db import create_db_engine
from service.migrate import current_revision, downgrade_database, head_revision, upgrade_database

REVISIONS = [f"{n:04d}" for n in range(1, 15)]
EARLIER = REVISIONS[:-1]
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
JOB = uuid.UUID("00000000-0000-4000-8000-000000000001")
T1 = datetime(2025, 7, 1, 8, 30, tzinfo=UTC)
T2 = datetime(2025, 7, 2, 9, 0, tzinfo=UTC)


def _table(name: str, **columns: sa.types.TypeEngine[Any]) -> sa.TableClause:
    return sa.table(name, *(sa.column(column, kind) for column, kind in columns.items()))


STAMP = sa.DateTime(timezone=True)
STR = sa.String()
INT = sa.Integer()
# The tables as each revision created them: columns added later are nullable or defaulted, so an insert written
# for the revision that created a table stays valid at every later one.
API_KEYS = _table(
    "api_keys", id=INT, key_prefix=STR, secret_hash=STR, role=STR, region_prefix=STR, label=STR, created_at=STAMP
)
JOBS = _table(
    "jobs",
    id=sa.Uuid(),
    created_at=STAMP,
    updated_at=STAMP,
    status=STR,
    caller_key_id=INT,
    region_prefix=STR,
    source=STR,
    total_chunks=INT,
    done_chunks=INT,
    rows_done=INT,
    options=JSON,
)
AUDIT = _table(
    "audit_entries",
    id=INT,
    at=STAMP,
    key_id=INT,
    role=STR,
    region_code=STR,
    household_pseudonym=STR,
    input_hash=STR,
    model_version=STR,
    probability=sa.Float(),
    level=STR,
    reasons=JSON,
    request_id=STR,
)
SCORES = _table(
    "score_records",
    id=INT,
    household_pseudonym=STR,
    region_code=STR,
    as_of=sa.Date(),
    scored_at=STAMP,
    model_version=STR,
    probability=sa.Float(),
    level=STR,
    reasons=JSON,
    measures=JSON,
    rule_flags=JSON,
    synthetic=sa.Boolean(),
    job_id=sa.Uuid(),
)
CHUNKS = _table("job_chunks", id=INT, job_id=sa.Uuid(), chunk_index=INT, rows=INT, committed_at=STAMP)
LATEST = _table(
    "latest_scores",
    region_code=STR,
    household_pseudonym=STR,
    score_id=INT,
    as_of=sa.Date(),
    scored_at=STAMP,
    probability=sa.Float(),
    level=STR,
    synthetic=sa.Boolean(),
    any_rule_flag=sa.Boolean(),
    reason_keys=STR,
)
RUNS = _table("household_runs", as_of=sa.Date(), level=STR, household_pseudonym=STR, region_code=STR)
VILLAGES = _table(
    "village_references", id=INT, created_at=STAMP, digest=STR, origin=STR, rows=INT, data=sa.LargeBinary()
)
ENDED = _table("ended_sessions", digest=STR, expires_at=STAMP)
IDENTIFICATIONS = _table(
    "region_identifications", region_code=STR, year=INT, identifications=INT, as_of=sa.Date(), counted_at=STAMP
)
VISITS = _table(
    "visits",
    id=INT,
    household_pseudonym=STR,
    region_code=STR,
    visited_on=sa.Date(),
    visitor_role=STR,
    outcome=STR,
    risk_types=JSON,
    measures_started=JSON,
    key_id=INT,
    source=STR,
    recorded_at=STAMP,
)

H1, H2, V1, V2 = "H-0001", "H-0002", "990101001", "990101002"
# Two scores of H1 (the later one latest), one of H2: what 0002 must find as each household's latest.
SCORE_ROWS = [
    {
        "id": 1,
        "household_pseudonym": H1,
        "region_code": V1,
        "as_of": date(2025, 1, 1),
        "scored_at": T1,
        "probability": 0.125,
        "level": "low",
        "reasons": [{"key": "debt"}, {"key": "illness"}, {"key": "debt"}],
        "rule_flags": {"income": False},
    },
    {
        "id": 2,
        "household_pseudonym": H1,
        "region_code": V1,
        "as_of": date(2025, 7, 1),
        "scored_at": T2,
        "probability": 0.25,
        "level": "medium",
        "reasons": [{"key": "income_drop"}, {"key": "illness"}],
        "rule_flags": {"income": True},
    },
    {
        "id": 3,
        "household_pseudonym": H2,
        "region_code": V2,
        "as_of": date(2025, 7, 1),
        "scored_at": T2,
        "probability": 0.875,
        "level": "high",
        "reasons": [],
        "rule_flags": {},
    },
]
LATEST_ROWS = [
    {
        "region_code": V1,
        "household_pseudonym": H1,
        "score_id": 2,
        "as_of": date(2025, 7, 1),
        "scored_at": T2,
        "probability": 0.25,
        "level": "medium",
        "synthetic": True,
        "any_rule_flag": True,
        "reason_keys": '["income_drop","illness"]',
    },
    {
        "region_code": V2,
        "household_pseudonym": H2,
        "score_id": 3,
        "as_of": date(2025, 7, 1),
        "scored_at": T2,
        "probability": 0.875,
        "level": "high",
        "synthetic": True,
        "any_rule_flag": False,
        "reason_keys": "[]",
    },
]
RUN_ROWS = [
    {"as_of": date(2025, 1, 1), "level": "low", "household_pseudonym": H1, "region_code": V1},
    {"as_of": date(2025, 7, 1), "level": "medium", "household_pseudonym": H1, "region_code": V1},
    {"as_of": date(2025, 7, 1), "level": "high", "household_pseudonym": H2, "region_code": V2},
]


IDEMPOTENCY = _table(
    "idempotency_keys",
    id=INT,
    key_id=INT,
    idempotency_key=STR,
    fingerprint=STR,
    created_at=STAMP,
    completed_at=STAMP,
    status=INT,
    media_type=STR,
    body=sa.LargeBinary(),
)


def _fill(connection: sa.Connection, revision: str) -> None:
    """Rows of every table that exists at `revision`, as the service of that release would have written them."""
    connection.execute(
        sa.insert(API_KEYS).values(
            id=1,
            key_prefix="rr_abc123",
            secret_hash="scrypt$salt$hash",
            role="monitor",
            region_prefix="990101",
            label="grid",
            created_at=T1,
        )
    )
    connection.execute(
        sa.insert(JOBS).values(
            id=JOB,
            created_at=T1,
            updated_at=T2,
            status="done",
            caller_key_id=1,
            region_prefix="990101",
            source="county/",
            total_chunks=1,
            done_chunks=1,
            rows_done=3,
            options={"explain": True},
        )
    )
    connection.execute(
        sa.insert(AUDIT).values(
            id=1,
            at=T2,
            key_id=1,
            role="monitor",
            region_code=V1,
            household_pseudonym=H1,
            input_hash="blake2b:00ff",
            model_version="2",
            probability=0.25,
            level="medium",
            reasons=[{"key": "income_drop"}],
            request_id="req-1",
        )
    )
    for row in SCORE_ROWS:
        connection.execute(sa.insert(SCORES).values(**row, model_version="2", measures=[], synthetic=True, job_id=JOB))
    connection.execute(sa.insert(CHUNKS).values(id=1, job_id=JOB, chunk_index=0, rows=3, committed_at=T2))
    if revision >= "0002":  # from 0002 on the service writes the report tables with every score
        connection.execute(sa.insert(LATEST), LATEST_ROWS)
        connection.execute(sa.insert(RUNS), RUN_ROWS)
    if revision >= "0003":
        connection.execute(
            sa.insert(VILLAGES).values(
                id=1, created_at=T1, digest="sha256:ab", origin="villages.csv", rows=2, data=b"PAR1\x00\x01"
            )
        )
        connection.execute(sa.insert(ENDED).values(digest="d" * 64, expires_at=T2))
        connection.execute(sa.text("UPDATE score_records SET context_version = 'villages-v1' WHERE id = 2"))
    if revision >= "0004":
        connection.execute(
            sa.text(
                "UPDATE score_records SET monitoring_status = 'monitored', "
                "monitoring_type = 'unstable', identified_date = '2025-03-01' WHERE id = 2"
            )
        )
    if revision >= "0005":
        connection.execute(
            sa.insert(IDENTIFICATIONS).values(
                region_code=V1, year=2024, identifications=3, as_of=date(2025, 7, 1), counted_at=T2
            )
        )
    if revision >= "0006":
        connection.execute(
            sa.insert(VISITS).values(
                id=1,
                household_pseudonym=H1,
                region_code=V1,
                visited_on=date(2025, 7, 10),
                visitor_role="grid_worker",
                outcome="not_at_risk",
                risk_types=[],
                measures_started=["medical_assistance"],
                key_id=1,
                source="api",
                recorded_at=T2,
            )
        )
    if revision >= "0008":
        connection.execute(
            sa.insert(IDEMPOTENCY).values(
                id=1, key_id=1, idempotency_key="visit-1", fingerprint="f" * 64, created_at=T2, completed_at=T2,
                status=201, media_type="application/json", body=b'{"id": 1}',
            )
        )  # fmt: skip


def _plain(value: Any) -> Any:
    """Values as comparable across backends: timestamps in UTC without a zone (SQLite stores them so)."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).replace(tzinfo=None)
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return date.fromisoformat(value)  # a date written as text by an UPDATE on SQLite
    return value


def _read(connection: sa.Connection, table: sa.TableClause, order: str, *extra: str) -> list[dict[str, Any]]:
    query = sa.select(*table.columns, *(sa.column(name) for name in extra)).select_from(table)
    query = query.order_by(sa.text(order))
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in connection.execute(query)]


def _expected(rows: list[dict[str, Any]], **also: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in {**row, **also}.items()} for row in rows]


def _url_at(database_url: str, revision: str) -> str:
    upgrade_database(database_url, revision)
    assert current_revision(database_url) == revision
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            _fill(connection, revision)
    finally:
        engine.dispose()
    return database_url


@pytest.mark.parametrize("revision", EARLIER)
def test_an_earlier_revision_upgrades_to_head_with_its_rows(database_url: str, revision: str) -> None:
    _url_at(database_url, revision)
    upgrade_database(database_url)
    assert current_revision(database_url) == head_revision() == REVISIONS[-1]

    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            scores = _read(
                connection,
                SCORES,
                "id",
                "context_version",
                "monitoring_status",
                "monitoring_type",
                "identified_date",
                "elimination_date",
                "expected_monitoring_type",
                "elimination_readiness",
                "identification_probability",
            )
            latest = _read(connection, LATEST, "household_pseudonym", "monitoring_status")
            runs = _read(connection, RUNS, "household_pseudonym, as_of", "monitoring_status")
            keys = _read(connection, API_KEYS, "id", "revoked_at")
            jobs = _read(connection, JOBS, "id", "error")
            audit = _read(connection, AUDIT, "id", "job_id")
            chunks = _read(connection, CHUNKS, "id")
            counts = {
                name: connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
                for name in (
                    "village_references",
                    "ended_sessions",
                    "region_identifications",
                    "visits",
                    "idempotency_keys",
                )
            }
    finally:
        engine.dispose()

    expected_scores = _expected(
        SCORE_ROWS,
        model_version="2",
        measures=[],
        synthetic=True,
        job_id=JOB,
        context_version=None,
        monitoring_status="unknown",
        monitoring_type=None,
        identified_date=None,
        elimination_date=None,
        expected_monitoring_type=None,
        elimination_readiness=None,
        identification_probability=None,
    )
    if revision >= "0003":
        expected_scores[1]["context_version"] = "villages-v1"
    if revision >= "0004":
        expected_scores[1] |= {
            "monitoring_status": "monitored",
            "monitoring_type": "unstable",
            "identified_date": date(2025, 3, 1),
        }
    assert scores == expected_scores
    # Filled by 0002 from the scores, or written by the service from 0002 on: the same rows either way.
    assert latest == _expected(LATEST_ROWS, monitoring_status="unknown")
    assert runs == _expected(RUN_ROWS, monitoring_status="unknown")
    assert keys == _expected(
        [
            {
                "id": 1,
                "key_prefix": "rr_abc123",
                "secret_hash": "scrypt$salt$hash",
                "role": "monitor",
                "region_prefix": "990101",
                "label": "grid",
                "created_at": T1,
                "revoked_at": None,
            }
        ]
    )
    assert [(j["id"], j["status"], j["options"], j["rows_done"], j["error"]) for j in jobs] == [
        (JOB, "done", {"explain": True}, 3, None)
    ]
    assert [
        (a["household_pseudonym"], a["probability"], a["reasons"], a["request_id"], a["job_id"]) for a in audit
    ] == [(H1, 0.25, [{"key": "income_drop"}], "req-1", None)]
    assert chunks == _expected([{"id": 1, "job_id": JOB, "chunk_index": 0, "rows": 3, "committed_at": T2}])
    assert counts == {
        "village_references": int(revision >= "0003"),
        "ended_sessions": int(revision >= "0003"),
        "region_identifications": int(revision >= "0005"),
        "visits": int(revision >= "0006"),
        "idempotency_keys": int(revision >= "0008"),
    }


# The tables each revision adds; a downgrade past it drops them (and the columns it added) with their rows.
ADDED = {
    "0001": {"api_keys", "jobs", "audit_entries", "score_records", "job_chunks"},
    "0002": {"latest_scores", "household_runs"},
    "0003": {"village_references", "ended_sessions", "health_probe"},
    "0004": set(),
    "0005": {"region_identifications"},
    "0006": {"visits"},
    "0007": {"subscriptions", "deliveries", "alert_cursor"},
    "0008": {"idempotency_keys"},
    "0009": {"household_events"},
    "0010": set(),
    "0011": {"household_sources"},
    "0012": set(),
    "0013": {"issued_lists", "issued_list_rows"},
    "0014": set(),
}


def test_each_downgrade_step_keeps_the_rows_of_the_tables_it_keeps(database_url: str) -> None:
    _url_at(database_url, REVISIONS[-1])
    engine = create_db_engine(database_url)
    try:
        for step in reversed(REVISIONS):
            with engine.connect() as connection:
                tables = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
                assert tables == set().union(*(ADDED[r] for r in REVISIONS if r <= step)), step
                counts = {t: connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
                assert counts["score_records"] == 3 and counts["api_keys"] == counts["audit_entries"] == 1, step
                assert counts.get("latest_scores", 2) == 2 and counts.get("visits", 1) == 1, step
                probabilities = connection.execute(sa.text("SELECT probability FROM score_records ORDER BY id"))
                assert [p for (p,) in probabilities] == [0.125, 0.25, 0.875], step
            engine.dispose()  # SQLite: no connection may hold the file while the next step alters it
            previous = REVISIONS.index(step) - 1
            downgrade_database(database_url, REVISIONS[previous] if previous >= 0 else "base")
        assert current_revision(database_url) is None
    finally:
        engine.dispose()
