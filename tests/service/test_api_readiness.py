"""The readiness list over HTTP: a region's current monitoring objects, each with every elimination condition,
paged by cursor and scoped to the caller's region; other households carry no readiness."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient
from markupsafe import escape

from features.profiles.readiness import CONDITIONS, KEYS, STATES, readiness_row
from service.db import Database
from service.reports.i18n import catalogue
from service.tables import Role
from tests.service.api_support import bearer
from tests.service.test_api_scores import profile_row

COUNTY = "990101"


def _county_rows(batch_profiles: pd.DataFrame, status: str, count: int) -> list[dict[str, object]]:
    inside = batch_profiles["region_code"].astype(str).str.startswith(COUNTY)
    positions = [i for i in range(len(batch_profiles)) if inside.iloc[i]]
    chosen = [i for i in positions if batch_profiles["monitoring_status"].iloc[i] == status][:count]
    assert len(chosen) == count, f"the test county needs {count} households of status {status}"
    return [profile_row(batch_profiles, i) for i in chosen]


def test_the_readiness_list_pages_every_monitoring_object_with_each_condition(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    monitored = _county_rows(batch_profiles, "monitored", 5)
    others = _county_rows(batch_profiles, "not_monitored", 2)
    monitor = bearer(db, Role.MONITOR, COUNTY)
    scored = client.post("/v1/profiles:score", json={"profiles": [*monitored, *others]}, headers=monitor)
    assert scored.status_code == 200, scored.text
    items = {item["household_pseudonym"]: item for item in scored.json()["items"]}
    for row in others:
        assert items[str(row["household_id"])]["elimination_readiness"] is None
    for row in monitored:
        readiness = items[str(row["household_id"])]["elimination_readiness"]
        assert [c["key"] for c in readiness["conditions"]] == list(KEYS)
        assert readiness == readiness_row(row)  # the API carries the profile's own conditions

    official = bearer(db, Role.OFFICIAL, COUNTY)
    listed: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, "cursor": cursor} if cursor else {"limit": 2}
        page = client.get(f"/v1/regions/{COUNTY}/readiness", params=params, headers=official)
        assert page.status_code == 200, page.text
        body = page.json()
        listed += body["items"]
        pages += 1
        cursor = body["cursor"]
        if not body["more"]:
            break
    assert pages == 3  # 5 households, 2 a page
    pseudonyms = [str(item["household_pseudonym"]) for item in listed]
    assert sorted(pseudonyms) == sorted(str(row["household_id"]) for row in monitored)
    # Oldest identification first, ties by pseudonym.
    keys = [(date.fromisoformat(str(item["identified_date"])), item["household_pseudonym"]) for item in listed]
    assert keys == sorted(keys)
    for item in listed:
        assert item["elimination_readiness"] == items[str(item["household_pseudonym"])]["elimination_readiness"]

    # The region report, in both languages, shows every condition of every listed monitoring object.
    for lang in ("zh", "en"):
        text = catalogue(lang)
        html = client.get(f"/reports/region/{COUNTY}?lang={lang}", headers=official).text
        assert text["region.readiness"] in html
        for condition in CONDITIONS:
            assert f'<th scope="col">{escape(getattr(condition, lang))}</th>' in html
        for item in listed:
            readiness = item["elimination_readiness"]
            ready = text["readiness.ready" if readiness["ready"] else "readiness.not_ready"]
            cells = "".join(
                f'<td class="state-{c["state"]}">{STATES[c["state"]][lang == "en"]}</td>'
                for c in readiness["conditions"]
            )
            expected_row = (
                f"<tr><td>{item['household_pseudonym']}</td><td>{ready}</td>"
                f'<td class="num">{readiness["met"]}/{len(KEYS)}</td>{cells}</tr>'
            )
            assert expected_row in html, (lang, expected_row)


def test_the_readiness_list_is_scoped_and_refuses_a_foreign_cursor(client: TestClient, db: Database) -> None:
    other = bearer(db, Role.OFFICIAL, "990199")
    assert client.get(f"/v1/regions/{COUNTY}/readiness", headers=other).status_code == 403
    own = bearer(db, Role.OFFICIAL, COUNTY)
    empty = client.get(f"/v1/regions/{COUNTY}/readiness", headers=own)
    assert empty.status_code == 200 and empty.json()["items"] == [] and empty.json()["more"] is False
    bad = client.get(f"/v1/regions/{COUNTY}/readiness", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=own)
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"
