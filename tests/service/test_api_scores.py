"""Scoring endpoints: same numbers as the batch path, audited decisions, validation and limits."""
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
from service.model_holder import ModelHolder
from service.tables import AuditEntry, Role, ScoreRecord
from tests.service.api_support import AS_OF, Registered, bearer, document, profile_row


def _household_in(profiles: pd.DataFrame, prefix: str, skip: int = 0) -> int:
    matches = np.flatnonzero(profiles["region_code"].astype(str).str.startswith(prefix).to_numpy())
    return int(matches[skip])


def test_profiles_score_equals_predict_proba(
    client: TestClient, db: Database, holder: ModelHolder, batch_profiles: pd.DataFrame
) -> None:
    rows = [_household_in(batch_profiles, "990101", k) for k in range(3)]
    body = {"profiles": [profile_row(batch_profiles, i) for i in rows]}
    response = client.post("/v1/profiles:score", json=body, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 200, response.text
    data = response.json()
    assert holder.current is not None
    expected = holder.current.model.predict_proba(batch_profiles.iloc[rows])
    assert [item["probability"] for item in data["items"]] == pytest.approx(list(expected), abs=1e-12)
    assert data["model_version"] == holder.current.version
    assert data["synthetic"] is True and "SYNTHETIC" in data["notice"]
    item = data["items"][0]
    assert item["risk_level"] in {"high", "medium", "low"}
    assert item["reasons"] and item["measures"] and "flags" in item["rule_flags"]
    assert all(m["probability_after"] >= 0 for m in item["measures"])


def test_households_score_builds_the_batch_profile(
    client: TestClient, db: Database, holder: ModelHolder, registered: Registered, batch_profiles: pd.DataFrame
) -> None:
    i = _household_in(batch_profiles, "990101", 1)
    household_id = str(batch_profiles["household_id"].iloc[i])
    body = {"households": [document(registered, household_id)], "as_of": AS_OF, "explain": False}
    response = client.post("/v1/households:score", json=body, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 200, response.text
    item = response.json()["items"][0]
    assert holder.current is not None
    expected = float(holder.current.model.predict_proba(batch_profiles.iloc[[i]])[0])
    assert item["household_pseudonym"] == household_id
    assert item["probability"] == pytest.approx(expected, abs=1e-12)
    assert item["reasons"] == [] and item["measures"] == []


def test_every_decision_is_audited_with_its_score(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    rows = [profile_row(batch_profiles, _household_in(batch_profiles, "990101", k)) for k in range(2)]
    response = client.post("/v1/profiles:score", json={"profiles": rows}, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 200, response.text
    request_id = response.headers["X-Request-ID"]
    with db.session() as session:
        audits = session.scalars(select(AuditEntry).where(AuditEntry.request_id == request_id)).all()
        scores = session.scalar(select(func.count()).select_from(ScoreRecord))
    assert scores == 2
    assert sorted(a.household_pseudonym for a in audits) == sorted(r["household_id"] for r in rows)
    assert all(a.input_hash.startswith("blake2b:") and a.key_id is not None for a in audits)


def test_unknown_fields_are_422_naming_field_and_row(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    headers = bearer(db, Role.MONITOR)
    good = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    response = client.post("/v1/profiles:score", json={"profiles": [good, {**good, "incme": 3}]}, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (response.json()["field"], response.json()["row"]) == ("incme", 1)

    response = client.post("/v1/profiles:score", json={"profiles": [good], "explainn": True}, headers=headers)
    assert response.status_code == 422 and response.json()["field"] == "explainn"

    doc = {"household": {"household_id": "H1", "region_code": "990101001001", "colour": "red"}}
    response = client.post("/v1/households:score", json={"households": [doc]}, headers=headers)
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["row"]) == ("household.colour", 0)

    doc = {"household": {"household_id": "H1", "region_code": "990101001001"}, "pets": []}
    response = client.post("/v1/households:score", json={"households": [doc, doc]}, headers=headers)
    assert response.status_code == 422 and response.json()["field"] == "pets"


def test_a_body_that_is_not_json_in_utf8_is_422_like_any_invalid_body(client: TestClient, db: Database) -> None:
    headers = bearer(db, Role.MONITOR) | {"Content-Type": "application/json"}
    for body in (b'{"profiles": [', '{"profiles": ["\u00e9"]}'.encode("latin-1")):  # not JSON; not UTF-8
        response = client.post("/v1/profiles:score", content=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["field"].startswith("body")


def test_oversize_batches_and_bodies_are_refused(
    settings: Any, holder: ModelHolder, db: Database, batch_profiles: pd.DataFrame
) -> None:
    from service.app import create_app
    from tests.service.api_support import KEY

    small = settings.model_copy(update={"max_batch": 2, "max_body_bytes": 20_000})
    app = create_app(small, holder=holder, database=db, pseudonym_key=KEY)
    good = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    with TestClient(app) as client:
        headers = bearer(db, Role.MONITOR)
        response = client.post("/v1/profiles:score", json={"profiles": [good] * 3}, headers=headers)
        assert response.status_code == 422 and response.json()["field"] == "profiles"
        response = client.post("/v1/profiles:score", json={"profiles": [good] * 50}, headers=headers)
        assert response.status_code == 413
        chunks = (b'{"profiles": [' + b", ".join([json.dumps(good).encode()] * 50) + b"]}",)
        chunked = client.post(
            "/v1/profiles:score", content=iter(chunks), headers={**headers, "Content-Type": "application/json"}
        )
        assert chunked.status_code == 413  # no Content-Length: counted while reading
        assert chunked.headers["content-type"].startswith("application/problem+json")
        one = client.post(
            "/v1/profiles:score",
            content=iter((b'{"profiles": [', json.dumps(good).encode(), b"]}")),
            headers={**headers, "Content-Type": "application/json"},
        )
        assert one.status_code == 200, one.text
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ScoreRecord)) == 1  # only the request within the limits


def test_invalid_id_numbers_name_the_document_and_never_echo_the_value(
    client: TestClient, db: Database, registered: Registered, batch_profiles: pd.DataFrame
) -> None:
    household_ids = [
        str(batch_profiles["household_id"].iloc[_household_in(batch_profiles, "990101", k)]) for k in (0, 1)
    ]
    docs = [document(registered, h) for h in household_ids]
    assert docs[1]["members"], "the test needs a household with members"
    docs[1]["members"][0]["id_number"] = "990101199001011239"  # checksum broken
    response = client.post("/v1/households:score", json={"households": docs}, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 422, response.text
    assert (response.json()["field"], response.json()["row"]) == ("members.id_number", 1)
    assert "990101199001011239" not in response.text
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ScoreRecord)) == 0


def test_a_year_outside_the_reference_tables_is_422_naming_table_and_year(
    client: TestClient, db: Database, registered: Registered, batch_profiles: pd.DataFrame
) -> None:
    household_id = str(batch_profiles["household_id"].iloc[_household_in(batch_profiles, "990101")])
    # The official-rule flags judge the 12 months before as_of against the income benchmark of that year, which the
    # shipped table does not hold for 2029: the answer names the table and the year, never another year's value.
    body = {"households": [document(registered, household_id)], "as_of": "2029-06-01", "explain": False}
    response = client.post("/v1/households:score", json=body, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert (problem["field"], problem["year"]) == ("rural_income_prior_year", 2029)
    assert "'rural_income_prior_year' has no value for year 2029" in problem["detail"]
