"""Cursor paging of the lists (jobs, a household's scores, visits and events, subscriptions): walking the pages
gives the unpaged list exactly, ties in the sort key included; a cursor the list did not give is a 422 on `cursor`."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from service.app import create_app
from service.db import Database
from service.errors import InvalidFieldError
from service.keys import Caller
from service.model_holder import ModelHolder
from service.paging import decode_cursor, encode_cursor
from service.scope import Scope
from service.store import create_job
from service.tables import Job, Role
from tests.service.api_support import KEY, bearer, service_settings
from tests.service.test_reports_worklist import score, store

HOUSEHOLD = "hh-paged"
VILLAGE = "990101001001"


def test_a_cursor_round_trips_and_a_foreign_one_is_refused() -> None:
    key = (date(2025, 7, 1), datetime(2025, 7, 2, 3, 4, 5, 678, tzinfo=UTC), 42)
    assert decode_cursor(encode_cursor(key), (date, datetime, int)) == key
    naive = encode_cursor(("2025-07-02T03:04:05",))
    for bad, kinds in [
        ("%%%", (int,)),
        ("bm90IGpzb24", (int,)),  # "not json"
        (encode_cursor((1, 2)), (int,)),  # another list's shape
        (encode_cursor(("7",)), (int,)),
        (encode_cursor((True,)), (int,)),
        (naive, (datetime,)),
        ("A" * 401, (int,)),
    ]:
        with pytest.raises(InvalidFieldError) as raised:
            decode_cursor(bad, kinds)
        assert raised.value.field == "cursor"


@pytest.fixture
def paged(tmp_path: Path, db: Database, holder: ModelHolder) -> Iterator[TestClient]:
    settings = service_settings(tmp_path, db, alert_hosts=["127.0.0.1"], job_runner=False)
    with TestClient(create_app(settings, holder=holder, database=db, pseudonym_key=KEY)) as client:
        yield client


def _walk(client: TestClient, path: str, headers: dict[str, str], field: str, limit: int) -> list[Any]:
    items: list[Any] = []
    cursor = None
    for _ in range(100):
        answer = client.get(path, params={"limit": limit, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body[field]) <= limit
        items += body[field]
        cursor = body["cursor"]
        if not body["more"]:
            return items
    raise AssertionError("the pages never ended")


def _same_walk(client: TestClient, path: str, headers: dict[str, str], field: str, expected: int) -> None:
    whole = client.get(path, params={"limit": 1000}, headers=headers).json()
    assert len(whole[field]) == expected and whole["more"] is False
    for limit in (1, 2, 3):
        assert _walk(client, path, headers, field, limit) == whole[field], limit
    refused = client.get(path, params={"cursor": "x"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["field"] == "cursor"


def test_every_list_pages_to_its_whole(paged: TestClient, db: Database) -> None:
    # Five scores of one household; two share as_of, so the order falls back on when and which was stored.
    store(db, [score(HOUSEHOLD, VILLAGE, p, as_of=date(2025, m, 1)) for p, m in [(0.2, 1), (0.3, 4), (0.4, 7)]])
    store(db, [score(HOUSEHOLD, VILLAGE, 0.5, as_of=date(2025, 7, 1)), score(HOUSEHOLD, VILLAGE, 0.6)])
    monitor, official = bearer(db, Role.MONITOR), bearer(db, Role.OFFICIAL)
    _same_walk(paged, f"/v1/households/{HOUSEHOLD}/scores", official, "scores", 5)

    # Visits: two on one day (a tie on the date), one of them corrected by a later one on another page.
    path = f"/v1/households/{HOUSEHOLD}/visits"
    ids = []
    for day in ("2025-07-10", "2025-07-10", "2025-07-12", "2025-07-15"):
        answer = paged.post(
            path, json={"visited_on": day, "visitor_role": "grid_worker", "outcome": "away"}, headers=official
        )
        ids.append(answer.json()["id"])
    fix = {"visited_on": "2025-07-16", "visitor_role": "grid_worker", "outcome": "not_found", "corrects": ids[0]}
    assert paged.post(path, json=fix, headers=official).status_code == 201
    _same_walk(paged, path, official, "visits", 5)
    assert [v["corrected"] for v in _walk(paged, path, official, "visits", 1)] == [False] * 4 + [True]

    events = [
        {"event_id": f"ev-{i}", "household_id": HOUSEHOLD, "event_type": "job_loss", "event_date": day}
        for i, day in enumerate(["2025-05-01", "2025-06-01", "2025-06-01", "2025-04-01"])
    ]
    assert paged.post("/v1/events", json={"events": events}, headers=monitor).status_code == 201
    _same_walk(paged, f"/v1/households/{HOUSEHOLD}/events", official, "events", 4)

    for i in range(4):
        body = {"url": f"http://127.0.0.1:9/hook-{i}", "events": ["score.high"]}
        assert paged.post("/v1/subscriptions", json=body, headers=monitor).status_code == 201
    _same_walk(paged, "/v1/subscriptions", monitor, "subscriptions", 4)

    with db.session() as session:
        for _ in range(5):
            create_job(session, Scope("990101"), Caller(None, Role.ADMIN, Scope("990101")), source="test")
        # Two jobs created at the same moment: the order falls back on the id.
        tie = datetime(2025, 7, 1, tzinfo=UTC)
        first_two = [job.id for job in session.query(Job).limit(2)]
        session.execute(update(Job).where(Job.id.in_(first_two)).values(created_at=tie))
    _same_walk(paged, "/v1/jobs", official, "jobs", 5)
