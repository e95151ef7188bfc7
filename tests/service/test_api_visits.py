"""Home visits over HTTP: recorded by monitors and officials inside their region, append-only with corrections,
validated field by field (a note with an ID or phone number is refused), listed newest first."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from features.contract.id_numbers import id_check_character
from service.db import Database
from service.tables import Role, Visit
from service.visits import holds_phone_number
from tests.service.api_support import bearer
from tests.service.test_api_access import OTHER_COUNTY
from tests.service.test_api_scores import _household_in, profile_row

ID17 = "11010519491231002"
ID = ID17 + id_check_character(ID17)
VISIT = {"visited_on": "2025-07-10", "visitor_role": "grid_worker", "visitor_grid": "G-07", "outcome": "not_at_risk"}


@pytest.fixture
def household(client: TestClient, db: Database, batch_profiles: pd.DataFrame) -> str:
    """A household of county 990101, scored by a monitor of that county (so the service knows where it lives)."""
    row = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    response = client.post("/v1/profiles:score", json={"profiles": [row]}, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 200, response.text
    return str(row["household_id"])


def _visits(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Visit)) or 0)


def test_a_monitor_records_a_visit_and_readers_of_the_region_see_it(
    client: TestClient, db: Database, household: str
) -> None:
    enrolled = {
        **VISIT,
        "outcome": "enrolled",
        "monitoring_type": "unstable",
        "risk_types": ["01", "04"],
        "measures_started": ["medical_assistance"],
        "list_version": "990101-2025-07-01",
        "list_rank": 3,
        "next_review_on": "2025-10-10",
        "note": "住院后家中缺劳力",
    }
    answer = client.post(f"/v1/households/{household}/visits", json=enrolled, headers=bearer(db, Role.MONITOR))
    assert answer.status_code == 201, answer.text
    stored = answer.json()
    assert stored["outcome_zh"] == "纳入监测" and stored["region_code"].startswith("990101")
    assert {k: stored[k] for k in enrolled} == enrolled | {"visited_on": "2025-07-10", "next_review_on": "2025-10-10"}

    listed = client.get(f"/v1/households/{household}/visits", headers=bearer(db, Role.OFFICIAL))
    assert listed.status_code == 200
    assert [v["id"] for v in listed.json()["visits"]] == [stored["id"]]


def test_a_correction_is_a_new_visit_and_marks_the_one_it_corrects(
    client: TestClient, db: Database, household: str
) -> None:
    headers = bearer(db, Role.OFFICIAL)
    first = client.post(f"/v1/households/{household}/visits", json=VISIT, headers=headers).json()
    fixed = client.post(
        f"/v1/households/{household}/visits",
        json={**VISIT, "outcome": "away", "corrects": first["id"]},
        headers=headers,
    )
    assert fixed.status_code == 201, fixed.text
    listed = client.get(f"/v1/households/{household}/visits", headers=headers).json()["visits"]
    assert {(v["id"], v["corrected"]) for v in listed} == {(first["id"], True), (fixed.json()["id"], False)}
    # Nothing rewrites or removes a visit.
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"/v1/households/{household}/visits", headers=headers).status_code == 405

    unknown = client.post(f"/v1/households/{household}/visits", json={**VISIT, "corrects": 10_000_000}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["field"] == "corrects"


def test_visits_are_scoped_and_need_their_permission(client: TestClient, db: Database, household: str) -> None:
    other = bearer(db, Role.MONITOR, OTHER_COUNTY)
    assert client.post(f"/v1/households/{household}/visits", json=VISIT, headers=other).status_code == 404
    assert client.get(f"/v1/households/{household}/visits", headers=other).status_code == 404
    assert (
        client.post("/v1/households/H-never-scored/visits", json=VISIT, headers=bearer(db, Role.MONITOR)).status_code
        == 404
    )
    scientist = bearer(db, Role.SCIENTIST)
    assert client.post(f"/v1/households/{household}/visits", json=VISIT, headers=scientist).status_code == 403
    assert _visits(db) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"note": f"户主身份证 {ID}"}, "note"),
        ({"note": "联系电话 138 1234 5678"}, "note"),
        ({"outcome": "enrolled"}, "monitoring_type"),
        ({"monitoring_type": "unstable"}, "monitoring_type"),
        ({"risk_types": ["01"]}, "risk_types"),
        ({"measures_started": ["free_money"]}, "measures_started"),
        ({"next_review_on": "2025-07-01"}, "next_review_on"),
        ({"visited_on": "1800-01-01"}, "visited_on"),
        ({"visitor_role": "mayor"}, "visitor_role"),
        ({"visitor_grid": "grid 7/8"}, "visitor_grid"),
        ({"list_rank": 0}, "list_rank"),
        ({"note": "x" * 201}, "note"),
        ({"household_name": "张三"}, "household_name"),
    ],
)
def test_a_bad_field_is_422_naming_it_and_nothing_is_stored(
    client: TestClient, db: Database, household: str, change: dict[str, Any], field: str
) -> None:
    answer = client.post(
        f"/v1/households/{household}/visits", json={**VISIT, **change}, headers=bearer(db, Role.MONITOR)
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field, answer.json()
    assert ID not in answer.text and "1234 5678" not in answer.text
    assert _visits(db) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.text(alphabet="住院后联系电话：abc ,.", max_size=8),
    second=st.sampled_from("3456789"),
    rest=st.text(alphabet="0123456789", min_size=9, max_size=9),
    spaced=st.booleans(),
    country=st.booleans(),
)
def test_any_mobile_number_in_a_note_is_found(prefix: str, second: str, rest: str, spaced: bool, country: bool) -> None:
    number = f"1{second}{rest[0]}" + (" " if spaced else "") + rest[1:5] + (" " if spaced else "") + rest[5:]
    assert holds_phone_number(prefix + ("+86 " if country else "") + number + "。")
    assert not holds_phone_number(prefix + "收入 12,345 元，3 人")
