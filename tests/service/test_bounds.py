"""Bounds: reference dates outside the documented range and ID numbers inside identifiers are 422, never 500."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from features.contract.dibao_standards import DEFAULT_DIBAO_STANDARDS, DEMO_DIBAO_STANDARDS
from features.contract.id_numbers import contains_id_number, id_check_character
from features.contract.monitoring_lines import DEFAULT_MONITORING_LINES, DEFAULT_RURAL_INCOME_PRIOR_YEAR
from service.db import Database
from service.schemas import EARLIEST_AS_OF, LATEST_AS_OF
from service.tables import Role, ScoreRecord
from tests.service.api_support import AS_OF, Registered, bearer, county_households, document, profile_row

ID17 = "11010519491231002"
ID = ID17 + id_check_character(ID17)


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        (ID, True),
        ("x" + ID, True),  # embedded in an identifier
        ("note " + ID.lower() + " end", True),
        ("H000000212", False),
        ("9" + ID, False),  # a 19-digit run is a code, not an ID number
        (ID17 + ("0" if ID[-1] != "0" else "1"), False),  # wrong check character
        ("11010519491331" + "0021", False),  # no 13th month (whatever its check character)
    ],
)
def test_an_id_number_is_found_wherever_it_stands(text: str, holds: bool) -> None:
    assert contains_id_number(text) is holds


def test_a_household_id_holding_an_id_number_is_refused_and_nothing_stored(
    client: TestClient, db: Database, registered: Registered
) -> None:
    sent = document(registered, str(county_households(registered).iloc[0]))
    hidden = "x" + ID
    sent["household"]["household_id"] = hidden
    for name in ("members", "income", "events", "assistance", "housing_checks", "water_checks", "identifications"):
        for row in sent[name]:
            row["household_id"] = hidden
    answer = client.post(
        "/v1/households:score", json={"households": [sent], "as_of": AS_OF}, headers=bearer(db, Role.MONITOR)
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "household_pseudonym" and ID not in answer.text
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ScoreRecord)) == 0


dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
YEARLY_TABLES = {
    "monitoring_line": set(DEFAULT_MONITORING_LINES),
    "rural_income_prior_year": set(DEFAULT_RURAL_INCOME_PRIOR_YEAR),
    "dibao_standard": set(DEFAULT_DIBAO_STANDARDS) | set(DEMO_DIBAO_STANDARDS),
}


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(as_of=st.one_of(dates, st.sampled_from([date(1, 1, 1), EARLIEST_AS_OF - timedelta(days=1), date(9999, 12, 31)])))
def test_reference_dates_outside_the_bounds_are_422_naming_the_field_and_never_500(
    client: TestClient, db: Database, registered: Registered, as_of: date
) -> None:
    headers = bearer(db, Role.MONITOR)
    sent = document(registered, str(county_households(registered).iloc[0]))
    answers = {
        "households:score": client.post(
            "/v1/households:score", json={"households": [sent], "as_of": as_of.isoformat()}, headers=headers
        ),
        "jobs": client.post("/v1/jobs", json={"path": "nowhere", "as_of": as_of.isoformat()}, headers=headers),
    }
    inside = EARLIEST_AS_OF <= as_of <= LATEST_AS_OF
    for route, answer in answers.items():
        assert answer.status_code < 500, (route, answer.text)
        if not inside:
            assert answer.status_code == 422, (route, answer.text)
            assert answer.json()["field"] == "as_of", (route, answer.text)
    if inside:
        # Scored, or a year the reference tables do not hold: 422 naming the table and the year, never another
        # year's value (the profile of `as_of` reads the line of its year and the prior year's income benchmark).
        scored = answers["households:score"]
        if scored.status_code != 200:
            body = scored.json()
            assert scored.status_code == 422 and body["field"] in YEARLY_TABLES, scored.text
            covered = YEARLY_TABLES[body["field"]]
            assert body["year"] not in covered and body["year"] in (as_of.year, as_of.year - 1), scored.text


@pytest.mark.parametrize(
    ("cell", "field"),
    [
        ({"members_count": 10**400}, "members_count"),  # a 400-digit integer: not a number the model can read
        ({"income_pc_yuan": -(10**309)}, "income_pc_yuan"),
        ({"as_of": "0001-01-01"}, "as_of"),  # a profile's own reference date outside the bounds
        ({"as_of": "9999-12-31"}, "as_of"),
        ({"as_of": "2101-01-01"}, "as_of"),
    ],
)
def test_profile_cells_out_of_range_are_422_naming_the_field(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame, cell: dict[str, object], field: str
) -> None:
    row = profile_row(batch_profiles, 0) | cell
    headers = bearer(db, Role.MONITOR, str(row["region_code"])[:6])
    headers["Content-Type"] = "application/json"  # the body is written here: a 400-digit integer is valid JSON
    answer = client.post("/v1/profiles:score", content=json.dumps({"profiles": [row]}), headers=headers)
    assert answer.status_code == 422, answer.text
    assert (answer.json()["field"], answer.json().get("row")) == (field, 0), answer.text


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("delete", "/v1/subscriptions/{n}", "subscription_id"),
        ("get", "/v1/subscriptions/{n}/deliveries", "subscription_id"),
        ("post", "/v1/deliveries/{n}:replay", "delivery_id"),
    ],
)
def test_a_row_id_beyond_what_the_database_holds_is_422_naming_it(
    client: TestClient, db: Database, method: str, path: str, field: str
) -> None:
    """2**63 does not fit PostgreSQL's BIGINT: the request is refused before the database sees it."""
    headers = bearer(db, Role.ADMIN, "")
    largest = client.request(method.upper(), path.format(n=2**63 - 1), headers=headers)
    assert largest.status_code == 404, largest.text  # a valid id that names nothing
    beyond = client.request(method.upper(), path.format(n=2**63), headers=headers)
    assert beyond.status_code == 422 and beyond.json()["field"] == field, beyond.text
