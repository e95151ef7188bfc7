"""Department events over HTTP: a batch is checked row by row as the contract's validator checks it (every
violation listed, nothing stored), events are kept once by their own id, only for households scored in the
sender's region, and listed with the household."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.db import Database
from service.tables import HouseholdEvent, Role
from tests.service.api_support import bearer
from tests.service.test_api_access import OTHER_COUNTY
from tests.service.test_api_scores import _household_in, profile_row


@pytest.fixture
def household(client: TestClient, db: Database, batch_profiles: pd.DataFrame) -> str:
    row = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    response = client.post("/v1/profiles:score", json={"profiles": [row]}, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 200, response.text
    return str(row["household_id"])


def stay(household: str, event_id: str = "YB-1", **cells: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "household_id": household,
        "event_type": "hospital_stay",
        "event_date": "2025-06-20",
        "source_department": "medical_security",
        "total_cost_yuan": 48000,
        "oop_cost_yuan": 21000,
        "hospital_days": 18,
    } | cells


def _stored(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(HouseholdEvent)) or 0)


def test_a_pushed_event_is_stored_once_and_listed_with_its_household(
    client: TestClient, db: Database, household: str
) -> None:
    monitor = bearer(db, Role.MONITOR)
    first = client.post("/v1/events", json={"events": [stay(household)]}, headers=monitor)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["stored"], body["duplicates"]) == (1, 0)
    event = body["events"][0]
    assert event["status"] == "stored" and event["scoring"] == "waiting_for_document"
    assert event["event_type_zh"] == "住院" and event["region_code"].startswith("990101")
    assert event["row"]["total_cost_yuan"] == 48000.0 and event["row"]["hospital_days"] == 18
    assert "member_id" not in event["row"]  # empty cells are left out

    again = client.post("/v1/events", json={"events": [stay(household)]}, headers=monitor).json()
    assert (again["stored"], again["duplicates"]) == (0, 1) and again["events"][0]["status"] == "duplicate"
    assert _stored(db) == 1

    listed = client.get(f"/v1/households/{household}/events", headers=bearer(db, Role.OFFICIAL))
    assert listed.status_code == 200 and [e["event_id"] for e in listed.json()["events"]] == ["YB-1"]
    assert (
        client.get(f"/v1/households/{household}/events", headers=bearer(db, Role.OFFICIAL, OTHER_COUNTY)).status_code
        == 404
    )


def test_every_violation_of_a_batch_is_listed_by_row_and_field_and_nothing_is_stored(
    client: TestClient, db: Database, household: str
) -> None:
    events = [
        stay(household, "ok-0"),
        stay(household, "bad-1", event_type="flood", loss_yuan=-5),
        stay(household, "bad-2", oop_cost_yuan=None),
        stay("no-such-household", "bad-3"),
        stay(household, "bad-4", event_date="2030-01-01"),
        stay(household, "bad-5", oop_cost_yuan=50000),
    ]
    answer = client.post("/v1/events", json={"events": events}, headers=bearer(db, Role.MONITOR))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    found = {(e["row"], e["field"], e["reason"]) for e in problem["errors"]}
    assert found == {
        (1, "events.event_type", "bad_code"),
        (1, "events.loss_yuan", "negative_amount"),
        (2, "events.oop_cost_yuan", "required_for_event_type"),
        (4, "events.event_date", "future_date"),
        (5, "events.oop_cost_yuan", "oop_exceeds_total"),
    }
    assert problem["title"] == "Invalid source data" and problem["count"] == len(found)
    assert _stored(db) == 0
    # Once the contract holds, the service's own rules: the household must be one scored in the region.
    valid = [stay(household, "ok-0"), stay("no-such-household", "bad-3")]
    unknown = client.post("/v1/events", json={"events": valid}, headers=bearer(db, Role.MONITOR)).json()
    assert [(e["row"], e["field"], e["reason"]) for e in unknown["errors"]] == [
        (1, "events.household_id", "unknown_household")
    ]
    assert _stored(db) == 0


def test_an_event_id_is_one_event(client: TestClient, db: Database, household: str) -> None:
    monitor = bearer(db, Role.MONITOR)
    assert client.post("/v1/events", json={"events": [stay(household)]}, headers=monitor).status_code == 201
    changed = client.post("/v1/events", json={"events": [stay(household, hospital_days=20)]}, headers=monitor)
    assert changed.status_code == 422
    assert [(e["row"], e["field"], e["reason"]) for e in changed.json()["errors"]] == [
        (0, "events.event_id", "event_id_reused")
    ]
    twice = client.post("/v1/events", json={"events": [stay(household, "x"), stay(household, "x")]}, headers=monitor)
    assert twice.status_code == 422 and {e["reason"] for e in twice.json()["errors"]} == {"duplicate_key"}
    assert _stored(db) == 1


def test_region_role_and_shape_are_checked(client: TestClient, db: Database, household: str) -> None:
    other = client.post(
        "/v1/events", json={"events": [stay(household)]}, headers=bearer(db, Role.MONITOR, OTHER_COUNTY)
    )
    assert other.status_code == 422 and other.json()["errors"][0]["reason"] == "unknown_household"
    official = client.post("/v1/events", json={"events": [stay(household)]}, headers=bearer(db, Role.OFFICIAL))
    assert official.status_code == 403
    unknown_column = client.post(
        "/v1/events",
        json={"events": [stay(household), stay(household, "y", patient_name="x")]},
        headers=bearer(db, Role.MONITOR),
    )
    assert unknown_column.status_code == 422
    assert (unknown_column.json()["field"], unknown_column.json()["row"]) == ("events.patient_name", 1)
    assert "x" not in unknown_column.json()["detail"]
    assert _stored(db) == 0
