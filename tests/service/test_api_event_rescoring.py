"""A department event re-scores its household at once: the service keeps the ingested rows of every household it
scored from a document, appends the event, and scores the result through the same road as a document — the
answer equals scoring the document with the event in it, and the score is stored and audited like any other."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.db import Database
from service.tables import AuditEntry, HouseholdSources, Role, ScoreRecord
from tests.service.api_support import AS_OF, COUNTY, Registered, bearer, document, profile_row

STAY_RULE = "rigid_medical_single_stay"  # one stay's out-of-pocket cost over 6,000 / 10,000 yuan


def _quiet_household(batch_profiles: pd.DataFrame) -> str:
    """A county household outside monitoring with no hospital stay in the 12 months before AS_OF (so one stay
    with 21,000 yuan out of pocket raises the single-stay rule, whatever its status)."""
    frame = batch_profiles
    eligible = frame["region_code"].astype(str).str.startswith(COUNTY)
    eligible &= frame["monitoring_status"] == "not_monitored"
    eligible &= frame["max_stay_oop_12m_yuan"].fillna(0) == 0
    return str(frame.loc[eligible, "household_id"].iloc[0])


def _stay(doc: dict[str, Any], event_id: str, event_date: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "household_id": doc["household"]["household_id"],
        "member_id": doc["members"][0]["member_id"],
        "event_type": "hospital_stay",
        "event_date": event_date,
        "source_department": "medical_security",
        "total_cost_yuan": 48000.0,
        "oop_cost_yuan": 21000.0,
        "hospital_days": 18,
    }


def _score(client: TestClient, headers: dict[str, str], doc: dict[str, Any], as_of: str) -> dict[str, Any]:
    answer = client.post("/v1/households:score", json={"households": [doc], "as_of": as_of}, headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["items"][0])


def _kept(db: Database, household: str) -> HouseholdSources:
    with db.read_session() as session:
        row = session.scalar(select(HouseholdSources).where(HouseholdSources.household_pseudonym == household))
    assert row is not None
    return row


def _count(db: Database, table: type, household: str) -> int:
    with db.read_session() as session:
        query = select(func.count()).select_from(table).where(table.household_pseudonym == household)  # type: ignore[attr-defined]
        return int(session.scalar(query) or 0)


def test_an_event_rescores_the_household_as_its_document_with_the_event_would(
    client: TestClient, db: Database, registered: Registered, batch_profiles: pd.DataFrame
) -> None:
    household = _quiet_household(batch_profiles)
    doc = document(registered, household)
    monitor = bearer(db, Role.MONITOR)
    before = _score(client, monitor, doc, AS_OF)
    assert before["rule_flags"]["flags"][STAY_RULE] is False

    # What is kept is the ingested rows: pseudonyms, no ID numbers and no names.
    kept = _kept(db, household)
    assert kept.region_code == before["region_code"] and kept.as_of.isoformat() == AS_OF
    stored_text = json.dumps(kept.tables, ensure_ascii=False)
    for member in doc["members"]:
        assert member["id_number"] not in stored_text
    assert all("id_number" not in m and "name" not in m and m["person_pseudonym"] for m in kept.tables["members"])
    assert len(kept.tables["members"]) == len(doc["members"]) and len(kept.tables["income"]) == len(doc["income"])

    event = _stay(doc, "YB-R1", "2025-06-20")
    pushed = client.post("/v1/events", json={"events": [event]}, headers=monitor | {"X-Request-ID": "evt-1"})
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert (body["stored"], body["rescored"]) == (1, 1) and "SYNTHETIC" in body["notice"]
    (answered,) = body["events"]
    assert answered["scoring"] == "rescored"
    score = answered["score"]
    assert score["as_of"] == AS_OF  # the stay lies before the kept as-of date: it counts there
    assert score["rule_flags"]["flags"][STAY_RULE] is True
    assert "单次住院自付超标" in score["rule_flags"]["zh"]

    # Stored and audited like any score: two scores now, the second audited under the pusher's request id.
    assert _count(db, ScoreRecord, household) == 2
    with db.read_session() as session:
        audit = session.scalar(select(AuditEntry).where(AuditEntry.request_id == "evt-1"))
    assert audit is not None and audit.household_pseudonym == household
    assert audit.probability == pytest.approx(score["probability"], abs=1e-12)

    # The independent expectation: the document with the event in its events table, scored as a document.
    expected = _score(client, monitor, {**doc, "events": [*doc["events"], event]}, AS_OF)
    assert score["probability"] == pytest.approx(expected["probability"], abs=1e-12)
    assert [r["key"] for r in score["reasons"]] == [r["key"] for r in expected["reasons"]]
    assert score["rule_flags"] == expected["rule_flags"] and score["risk_level"] == expected["risk_level"]
    assert score["probability"] != pytest.approx(before["probability"], abs=1e-9)


def test_a_later_event_moves_the_as_of_date_and_the_next_document_replaces_the_rows(
    client: TestClient, db: Database, registered: Registered, batch_profiles: pd.DataFrame
) -> None:
    household = _quiet_household(batch_profiles)
    doc = document(registered, household)
    monitor = bearer(db, Role.MONITOR)
    _score(client, monitor, doc, AS_OF)
    late = _stay(doc, "YB-R2", "2025-07-20")
    answer = client.post("/v1/events", json={"events": [late]}, headers=monitor).json()
    score = answer["events"][0]["score"]
    assert score["as_of"] == "2025-07-21"  # the day after the stay: a profile reads records before its date
    assert score["rule_flags"]["flags"][STAY_RULE] is True
    kept = _kept(db, household)
    assert kept.as_of.isoformat() == "2025-07-21"
    assert [e["event_id"] for e in kept.tables["events"]][-1] == "YB-R2"

    # The same event again: a duplicate, nothing re-scored.
    again = client.post("/v1/events", json={"events": [late]}, headers=monitor).json()
    assert again["events"][0]["scoring"] == "unchanged" and again["events"][0]["score"] is None
    assert _count(db, ScoreRecord, household) == 2

    # The next document is the household's rows from now on (it does not carry the stay).
    _score(client, monitor, doc, "2025-08-01")
    kept = _kept(db, household)
    assert kept.as_of.isoformat() == "2025-08-01"
    assert [e["event_id"] for e in kept.tables.get("events", [])] == [e["event_id"] for e in doc["events"]]


def test_a_household_scored_from_profiles_waits_and_a_repeat_key_answers_the_first_score(
    client: TestClient, db: Database, registered: Registered, batch_profiles: pd.DataFrame
) -> None:
    monitor = bearer(db, Role.MONITOR)
    household = _quiet_household(batch_profiles)
    county = batch_profiles["region_code"].astype(str).str.startswith(COUNTY).to_numpy()
    i = next(int(k) for k in np.flatnonzero(county) if str(batch_profiles["household_id"].iloc[k]) != household)
    row = profile_row(batch_profiles, i)
    other = str(row["household_id"])
    assert client.post("/v1/profiles:score", json={"profiles": [row]}, headers=monitor).status_code == 200
    doc = document(registered, household)
    _score(client, monitor, doc, AS_OF)

    events = [_stay(doc, "YB-R3", "2025-06-20"), {**_stay(doc, "YB-R4", "2025-06-21"), "household_id": other}]
    events[1].pop("member_id")
    keyed = monitor | {"Idempotency-Key": "events-batch-1"}
    first = client.post("/v1/events", json={"events": events}, headers=keyed)
    assert first.status_code == 201, first.text
    answered = first.json()["events"]
    assert [e["scoring"] for e in answered] == ["rescored", "waiting_for_document"]
    assert answered[1]["score"] is None and first.json()["rescored"] == 1
    repeat = client.post("/v1/events", json={"events": events}, headers=keyed)
    assert repeat.headers.get("Idempotent-Replayed") == "true" and repeat.content == first.content
    assert _count(db, ScoreRecord, household) == 2


def test_with_a_villages_reference_the_kept_rows_leave_the_village_to_it(
    client: TestClient, db: Database, registered: Registered, batch_profiles: pd.DataFrame
) -> None:
    villages = registered.city["villages"]
    rows = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in villages.to_dict("records")]
    loaded = client.put("/v1/references/villages", json={"villages": rows}, headers=bearer(db, Role.ADMIN, ""))
    assert loaded.status_code == 200, loaded.text
    household = _quiet_household(batch_profiles)
    doc = document(registered, household)
    other = "general" if doc["village"]["village_type"] != "general" else "former_poor"
    stale = {**doc, "village": {**doc["village"], "village_type": other}}  # a stale copy: the reference wins
    monitor = bearer(db, Role.MONITOR)
    _score(client, monitor, stale, AS_OF)
    assert "villages" not in _kept(db, household).tables

    event = _stay(doc, "YB-R5", "2025-06-20")
    score = client.post("/v1/events", json={"events": [event]}, headers=monitor).json()["events"][0]["score"]
    assert score["context_version"] == loaded.json()["version"]
    expected = _score(client, monitor, {**doc, "events": [*doc["events"], event]}, AS_OF)
    assert score["probability"] == pytest.approx(expected["probability"], abs=1e-12)
