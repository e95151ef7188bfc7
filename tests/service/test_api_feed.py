"""The feed of stored scores: paged by an opaque cursor, oldest first, nothing missed or repeated across pages and
new scores, scoped to the caller's region, each item with the household's previous level."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient

from service.db import Database
from service.tables import Role
from tests.service.api_support import bearer
from tests.service.test_api_access import OTHER_COUNTY
from tests.service.test_api_scores import _household_in, profile_row


def _all_pages(client: TestClient, headers: dict[str, str], cursor: str | None, limit: int) -> tuple[list[dict], str]:
    items: list[dict] = []
    while True:
        page = client.get(
            "/v1/scores", params={"limit": limit, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["cursor"]
        if not body["more"]:
            return items, cursor


def test_pages_follow_storage_order_and_a_later_poll_sees_only_what_is_new(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    monitor = bearer(db, Role.MONITOR)
    rows = [profile_row(batch_profiles, _household_in(batch_profiles, "990101", k)) for k in range(7)]
    assert client.post("/v1/profiles:score", json={"profiles": rows}, headers=monitor).status_code == 200

    reader = bearer(db, Role.OFFICIAL)
    first, cursor = _all_pages(client, reader, None, limit=3)
    assert [item["household_pseudonym"] for item in first] == [row["household_id"] for row in rows]
    assert {item["previous_level"] for item in first} == {None}  # every household's first score

    # The same households again, later: the next poll gives exactly these, each with its previous level.
    again = client.post("/v1/profiles:score", json={"profiles": rows[:2]}, headers=monitor).json()
    second, _ = _all_pages(client, reader, cursor, limit=3)
    assert [item["household_pseudonym"] for item in second] == [row["household_id"] for row in rows[:2]]
    assert [item["previous_level"] for item in second] == [item["risk_level"] for item in first[:2]]
    assert [item["risk_level"] for item in second] == [item["risk_level"] for item in again["items"]]

    other, _ = _all_pages(client, bearer(db, Role.OFFICIAL, OTHER_COUNTY), None, limit=50)
    assert other == []  # another county's key sees none of them
    assert client.get("/v1/scores", params={"cursor": "x1"}, headers=reader).json()["field"] == "cursor"
    for digits in ("¹", "١٢", "１"):  # digits to `str.isdigit`, not to `int` or to this feed (found by schemathesis)
        refused = client.get("/v1/scores", params={"cursor": digits}, headers=reader)
        assert refused.status_code == 422 and refused.json()["field"] == "cursor", refused.text
    assert client.get("/v1/scores", headers=bearer(db, Role.SCIENTIST)).status_code == 403
