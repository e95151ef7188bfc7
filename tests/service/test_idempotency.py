"""Idempotency-Key on the POSTs that store: a repeat gets the first answer and stores nothing more, another body
under the same key is refused, keys belong to one API key, failures free the key, two identical requests sent
together store once, and a repeat waits for the first while it runs."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.app import create_app
from service.db import Database
from service.idempotency import REPLAYED, Claim, fingerprint
from service.model_holder import ModelHolder
from service.tables import ApiKey, AuditEntry, IdempotencyRecord, Role, ScoreRecord, Visit, utcnow
from tests.service.api_support import KEY, bearer, service_settings
from tests.service.test_api_scores import _household_in, profile_row

VISIT = {"visited_on": "2025-07-10", "visitor_role": "grid_worker", "outcome": "not_at_risk"}
JSON = {"Content-Type": "application/json"}


def _count(db: Database, table: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _latest_key_id(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.max(ApiKey.id))) or 0)


@pytest.fixture
def household(client: TestClient, db: Database, batch_profiles: pd.DataFrame) -> str:
    row = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    response = client.post("/v1/profiles:score", json={"profiles": [row]}, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 200, response.text
    return str(row["household_id"])


def test_a_repeated_visit_answers_the_first_and_stores_once(client: TestClient, db: Database, household: str) -> None:
    headers = bearer(db, Role.MONITOR) | {"Idempotency-Key": "visit-1"}
    path = f"/v1/households/{household}/visits"
    first = client.post(path, json=VISIT, headers=headers)
    again = client.post(path, json=VISIT, headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.content == first.content and again.json()["id"] == first.json()["id"]
    assert REPLAYED not in first.headers and again.headers[REPLAYED] == "true"
    assert _count(db, Visit) == 1

    other = client.post(path, json={**VISIT, "outcome": "away"}, headers=headers)
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    assert _count(db, Visit) == 1

    plain = bearer(db, Role.MONITOR)
    assert client.post(path, json=VISIT, headers=plain).status_code == 201
    assert client.post(path, json=VISIT, headers=plain).status_code == 201  # no key: each request stores
    # Keys belong to the API key that sent them: another caller's same key is another request.
    assert client.post(path, json=VISIT, headers=plain | {"Idempotency-Key": "visit-1"}).status_code == 201
    assert _count(db, Visit) == 4


def test_the_same_key_on_another_path_is_another_request(client: TestClient, db: Database, household: str) -> None:
    headers = bearer(db, Role.MONITOR) | {"Idempotency-Key": "k"}
    assert client.post(f"/v1/households/{household}/visits", json=VISIT, headers=headers).status_code == 201
    other = client.post(f"/v1/households/{household}x/visits", json=VISIT, headers=headers)
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"


@pytest.mark.parametrize("value", ["", "with space", "x" * 129])
def test_a_malformed_key_is_refused_naming_the_header(
    client: TestClient, db: Database, household: str, value: str
) -> None:
    headers = bearer(db, Role.MONITOR) | {"Idempotency-Key": value}
    answer = client.post(f"/v1/households/{household}/visits", json=VISIT, headers=headers)
    assert answer.status_code == 422 and answer.json()["field"] == "Idempotency-Key"
    assert _count(db, Visit) == 0


def test_a_failed_request_frees_its_key(client: TestClient, db: Database, household: str) -> None:
    headers = bearer(db, Role.MONITOR) | {"Idempotency-Key": "retry-me"}
    missing = client.post("/v1/households/not-scored-here/visits", json=VISIT, headers=headers)
    assert missing.status_code == 404
    assert _count(db, IdempotencyRecord) == 0
    again = client.post("/v1/households/not-scored-here/visits", json=VISIT, headers=headers)
    assert again.status_code == 404 and REPLAYED not in again.headers  # run again, not replayed


def test_scoring_with_a_key_stores_and_audits_once(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    rows = [profile_row(batch_profiles, i) for i in range(3)]
    headers = bearer(db, Role.MONITOR, "99") | {"Idempotency-Key": "score-batch-7"}
    first = client.post("/v1/profiles:score", json={"profiles": rows}, headers=headers)
    again = client.post("/v1/profiles:score", json={"profiles": rows}, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert again.content == first.content and again.headers[REPLAYED] == "true"
    assert _count(db, ScoreRecord) == _count(db, AuditEntry) == 3


def test_two_identical_requests_sent_together_store_once(client: TestClient, db: Database, household: str) -> None:
    headers = bearer(db, Role.MONITOR) | {"Idempotency-Key": "together"}
    answers: list[httpx.Response] = []
    start = threading.Barrier(2)

    def send() -> None:
        start.wait()
        answers.append(client.post(f"/v1/households/{household}/visits", json=VISIT, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].content == answers[1].content
    assert sorted(REPLAYED in a.headers for a in answers) == [False, True]
    assert _count(db, Visit) == 1


@pytest.fixture
def impatient(tmp_path: Path, db: Database, holder: ModelHolder) -> Iterator[TestClient]:
    """The app with a repeat waiting at most half a second for the first request."""
    settings = service_settings(tmp_path, db, idempotency_wait_s=0.5, idempotency_stale_s=60)
    with TestClient(create_app(settings, holder=holder, database=db, pseudonym_key=KEY)) as test_client:
        yield test_client


def _held_claim(db: Database, household: str, body: bytes, key: str) -> Claim:
    path = f"/v1/households/{household}/visits"
    claim = Claim(db, _latest_key_id(db), key, fingerprint("POST", path, body))
    assert claim.acquire(service_settings(Path("."), db)) is None
    return claim


def test_a_repeat_waits_for_the_first_request_and_gets_its_answer(
    client: TestClient, db: Database, household: str
) -> None:
    headers = bearer(db, Role.MONITOR) | {"Idempotency-Key": "slow"} | JSON
    body = json.dumps(VISIT).encode()
    claim = _held_claim(db, household, body, "slow")  # as if the first request were still running
    answers: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: answers.append(client.post(f"/v1/households/{household}/visits", content=body, headers=headers))
    )
    waiter.start()
    time.sleep(0.5)
    assert not answers  # still waiting
    claim.finish(Response(b'{"first": true}', status_code=201, media_type="application/json"))
    waiter.join(timeout=30)
    assert answers[0].status_code == 201 and answers[0].json() == {"first": True}
    assert answers[0].headers[REPLAYED] == "true" and _count(db, Visit) == 0


def test_a_repeat_that_waited_too_long_gets_409_and_a_dead_claim_is_taken_over(
    impatient: TestClient, db: Database, household: str
) -> None:
    headers = bearer(db, Role.MONITOR) | {"Idempotency-Key": "held"} | JSON
    body = json.dumps(VISIT).encode()
    _held_claim(db, household, body, "held")
    path = f"/v1/households/{household}/visits"
    busy = impatient.post(path, content=body, headers=headers)
    assert busy.status_code == 409 and busy.json()["field"] == "Idempotency-Key"
    assert _count(db, Visit) == 0
    with db.session() as session:  # the claiming process died long ago
        row = session.scalars(select(IdempotencyRecord)).one()
        row.created_at = utcnow() - timedelta(seconds=61)
    taken = impatient.post(path, content=body, headers=headers)
    assert taken.status_code == 201 and REPLAYED not in taken.headers and _count(db, Visit) == 1


def test_an_answer_older_than_the_retention_is_not_replayed(client: TestClient, db: Database, household: str) -> None:
    headers = bearer(db, Role.MONITOR) | {"Idempotency-Key": "old"}
    path = f"/v1/households/{household}/visits"
    assert client.post(path, json=VISIT, headers=headers).status_code == 201
    with db.session() as session:
        row = session.scalars(select(IdempotencyRecord)).one()
        row.created_at = utcnow() - timedelta(hours=25)
    again = client.post(path, json=VISIT, headers=headers)
    assert again.status_code == 201 and REPLAYED not in again.headers and _count(db, Visit) == 2
    assert _count(db, IdempotencyRecord) == 1  # the expired row was deleted


def test_the_openapi_document_names_the_header_where_it_works(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    taking = {
        path
        for path, operations in paths.items()
        for method, operation in operations.items()
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    expected = {
        "/v1/households:score",
        "/v1/profiles:score",
        "/v1/households/{pseudonym}/visits",
        "/v1/jobs",
        "/v1/events",
    }
    assert taking == expected
    for path in expected:
        assert "409" in paths[path]["post"]["responses"]
        assert "get" not in paths[path] or "Idempotency-Key" not in str(paths[path]["get"])
