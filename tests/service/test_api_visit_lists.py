"""Issued visit lists over HTTP: monitors and officials issue a region's list inside their scope, readers read it
back page by page, a repeat with the same Idempotency-Key answers the first list, other roles are refused."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from fastapi.testclient import TestClient

from service.db import Database
from service.tables import Role
from tests.service.api_support import bearer
from tests.service.test_reports_worklist import score, store

VILLAGE = "990101001001"


def _scores(db: Database) -> None:
    store(db, [score(f"hh{i:02d}", VILLAGE, round(0.9 - i * 0.02, 2)) for i in range(30)])


def test_an_official_issues_a_list_and_a_reader_reads_it_back(client: TestClient, db: Database) -> None:
    _scores(db)
    body = {"visits_per_village": 10, "exploration_share": 0.2, "seed": 3}
    issued = client.post("/v1/regions/990101/visit-lists", json=body, headers=bearer(db, Role.OFFICIAL))
    assert issued.status_code == 201, issued.text
    answer = issued.json()
    assert answer["list_version"] == "990101-20250701-1" and answer["households"] == 10
    items = answer["items"]
    assert [i["household_pseudonym"] for i in items[:8]] == [f"hh{i:02d}" for i in range(8)]
    assert all(i["selection_probability"] == 1.0 and not i["explored"] for i in items[:8])
    # Two slots drawn from the other 22 households.
    assert all(i["explored"] and abs(i["selection_probability"] - 2 / 22) < 1e-12 for i in items[8:])
    assert [i["rank"] for i in items] == list(range(1, 11))

    reader = bearer(db, Role.MONITOR)
    first = client.get(f"/v1/regions/990101/visit-lists/{answer['list_version']}?limit=6", headers=reader).json()
    assert first["more"] and len(first["items"]) == 6
    rest = client.get(
        f"/v1/regions/990101/visit-lists/{answer['list_version']}?limit=6&cursor={first['cursor']}", headers=reader
    ).json()
    assert first["items"] + rest["items"] == items and not rest["more"]


def test_a_repeat_with_the_same_key_answers_the_first_list(client: TestClient, db: Database) -> None:
    _scores(db)
    headers = bearer(db, Role.MONITOR) | {"Idempotency-Key": "list-1"}
    first = client.post("/v1/regions/990101/visit-lists", json={}, headers=headers)
    again = client.post("/v1/regions/990101/visit-lists", json={}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and first.json()["list_version"].endswith("-1")
    assert first.json()["exploration_share"] == 0.1  # the default
    other = client.post("/v1/regions/990101/visit-lists", json={}, headers=bearer(db, Role.MONITOR))
    assert other.json()["list_version"].endswith("-2")


def test_outside_the_scope_other_roles_and_unknown_lists_are_refused(client: TestClient, db: Database) -> None:
    _scores(db)
    official = bearer(db, Role.OFFICIAL)
    assert client.post("/v1/regions/990102/visit-lists", json={}, headers=official).status_code == 403
    assert client.post("/v1/regions/990101/visit-lists", json={}, headers=bearer(db, Role.SCIENTIST)).status_code == 403
    bad = client.post("/v1/regions/990101/visit-lists", json={"exploration_share": 0.9}, headers=official)
    assert bad.status_code == 422 and "exploration_share" in bad.text
    assert client.get("/v1/regions/990101/visit-lists/990101-20250701-9", headers=official).status_code == 404
    empty = client.post("/v1/regions/990109/visit-lists", json={}, headers=bearer(db, Role.OFFICIAL, "990109"))
    assert empty.status_code == 404
