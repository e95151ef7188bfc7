"""Monitoring status in every answer, and new-risk outputs without current monitoring objects, on a generated city.

A batch job scores a county of the generated city; the statuses the profile builder computes (`batch_profiles`)
are the independent expectation. No household that is a monitoring object on `as_of` may appear in the region
summary's counts by level, its visit list, main risk types or expected identifications, the report's
disagreement lists or the work list — and each of them must be listed in the monitored section instead.
"""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import io
import math
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from service._identifications import count_identifications, store_identification_counts
from service.db import Database
from service.keys import Caller
from service.reports._queries import region_data
from service.reports.build import region_work_list
from service.reports.worklist import Capacity
from service.scope import Scope
from service.store import identifications_by_year
from service.tables import Role
from tests.service.api_support import (
    AS_OF,
    COUNTY,
    Registered,
    batch_profiles,
    bearer,
    county_folder,
    county_households,
    holder,
    jobs_client,
    profile_row,
    registered,
    wait_for_job,
)

__all__ = ["batch_profiles", "county_folder", "holder", "jobs_client", "registered"]


@pytest.mark.slow
def test_no_current_monitoring_object_is_in_a_new_risk_output(
    jobs_client: TestClient, db: Database, registered: Registered, batch_profiles: pd.DataFrame, county_folder: Path
) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    submitted = jobs_client.post("/v1/jobs", json={"path": "county", "as_of": AS_OF}, headers=headers)
    assert submitted.status_code == 202, submitted.text
    job = wait_for_job(jobs_client, submitted.json()["id"], headers, timeout_s=300)
    assert job["status"] == "done", job
    results = pd.read_parquet(io.BytesIO(jobs_client.get(job["results"], headers=headers).content))
    results = results.set_index("household_pseudonym")

    expected = batch_profiles.set_index("household_id")["monitoring_status"]
    county = sorted(county_households(registered))
    assert (results.loc[county, "monitoring_status"] == expected.loc[county]).all()  # the export says it
    monitored = {h for h in county if expected[h] == "monitored"}
    fresh = results.drop(index=sorted(monitored))
    # Not vacuous: ranked by probability alone, monitoring objects would lead the visit list.
    top = results.sort_values("probability", ascending=False).head(50)
    assert monitored & set(top.index), "the county needs monitoring objects among its highest scores"

    answer = jobs_client.get(f"/v1/regions/{COUNTY}/summary?top_k=1000", headers=headers)
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["households"] == len(county) and summary["newly_identifiable"] == len(county) - len(monitored)
    assert summary["by_status"]["monitored"] == len(monitored) and summary["by_status"]["unknown"] == 0
    assert sum(summary["by_level"].values()) == len(fresh)
    assert (
        summary["by_level"]
        == fresh["risk_level"].value_counts().reindex(["high", "medium", "low"]).fillna(0).astype(int).to_dict()
    )
    assert not {v["household_pseudonym"] for v in summary["visit_list"]} & monitored
    assert {v["household_pseudonym"] for v in summary["monitored_list"]} == monitored
    assert all(v["identified_date"] and v["monitoring_type"] for v in summary["monitored_list"])
    counted = summary["expected_identifications"]
    assert counted["households"] == len(fresh)
    assert counted["expected"] == pytest.approx(math.fsum(fresh["probability"]))
    assert counted["low"] <= counted["expected"] <= counted["high"]
    at_risk = fresh[fresh["risk_level"].isin(["high", "medium"])]
    for risk in summary["top_risk_types"]:  # counted over the high- and medium-risk fresh households only
        named = sum(risk["key"] in {row[f"reason{k}_key"] for k in (1, 2, 3)} for _, row in at_risk.iterrows())
        assert (risk["households"], risk["share"]) == (named, pytest.approx(named / len(at_risk)))

    # Last years' actual identifications, counted from the job's source data (identified before as_of).
    identifications = registered.city["identifications"]
    past = identifications[
        identifications["household_id"].isin(county) & (identifications["identified_date"] < pd.Timestamp(AS_OF))
    ]
    years = past["identified_date"].dt.year.value_counts().sort_index()
    assert len(years) > 1
    assert summary["identifications_by_year"] == {str(year): int(n) for year, n in years.items()}

    with db.read_session() as session:
        data = region_data(session, Scope(COUNTY), 1000, 1000)
    listed = [*data.model_only.listed, *data.rules_only.listed]
    assert listed and not {v.household_pseudonym for v in listed} & monitored
    model_only = fresh[(fresh["risk_level"] == "high") & (fresh["rule_flags"] == "")]
    assert data.model_only.households == len(model_only)
    assert all(sum(point.by_level.values()) <= len(fresh) for point in data.trend)

    work = region_work_list(db, Caller.local_operator(), COUNTY, Capacity(visits_per_worker=50, workers=2))
    worked = {row.view.household_pseudonym for village in work.villages for row in village.rows}
    assert worked and not worked & monitored


def test_a_profile_row_without_status_is_scored_and_said_unknown(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    positions = [i for i, code in enumerate(batch_profiles["region_code"]) if str(code).startswith(COUNTY)][:2]
    with_status = profile_row(batch_profiles, positions[0])
    without = {
        k: v
        for k, v in profile_row(batch_profiles, positions[1]).items()
        if not k.startswith(("monit", "ident", "elimin"))
    }
    answer = client.post(
        "/v1/profiles:score", json={"profiles": [with_status, without], "as_of": AS_OF}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert items[0]["monitoring_status"] == with_status["monitoring_status"] != "unknown"
    assert items[1]["monitoring_status"] == "unknown" and items[1]["monitoring_risk_types"] == []
    summary = client.get(f"/v1/regions/{COUNTY}/summary?top_k=10", headers=headers).json()
    assert summary["by_status"]["unknown"] == 1
    unknown = items[1]["household_pseudonym"]
    assert unknown in {v["household_pseudonym"] for v in summary["visit_list"]}  # kept, marked unknown
    history = client.get(f"/v1/households/{unknown}/scores", headers=headers).json()
    assert history["scores"][0]["monitoring_status"] == "unknown"


def test_a_status_outside_the_code_list_is_refused_naming_field_and_row(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    position = next(i for i, code in enumerate(batch_profiles["region_code"]) if str(code).startswith(COUNTY))
    row = {**profile_row(batch_profiles, position), "monitoring_status": "watched"}
    answer = client.post("/v1/profiles:score", json={"profiles": [row], "as_of": AS_OF}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "monitoring_status" in answer.text


def test_identifications_are_counted_by_village_and_year_and_replaced_by_a_later_job(db: Database) -> None:
    households = pa.table(
        {"household_id": ["a", "b", "c"], "region_code": ["990101001001", "990101001001", "990101001002"]}
    )
    identifications = pa.table(
        {
            "household_id": ["a", "a", "b", "c", "x"],
            "identified_date": pa.array(
                [date(2022, 3, 1), date(2024, 5, 1), date(2024, 1, 9), date(2025, 7, 1), date(2023, 1, 1)], pa.date32()
            ),
        }
    )
    tables = {"households": households, "identifications": identifications}
    counts = count_identifications(tables, date(2025, 7, 1))  # c's identification is on as_of: not before it
    assert counts == {"990101001001": {2022: 1, 2024: 2}, "990101001002": {}}
    assert count_identifications({"households": households}, date(2025, 7, 1)) is None
    with db.session() as session:
        store_identification_counts(session, counts, date(2025, 7, 1), None)
        store_identification_counts(session, {"990101001002": {2023: 4}}, date(2025, 7, 1), None)
    with db.read_session() as session:
        assert identifications_by_year(session, Scope("990101")) == {2022: 1, 2023: 4, 2024: 2}
        assert identifications_by_year(session, Scope("990101001002")) == {2023: 4}
    with db.session() as session:  # a later job over the first village replaces its counts
        store_identification_counts(session, {"990101001001": {2024: 1}}, date(2025, 8, 1), None)
    with db.read_session() as session:
        assert identifications_by_year(session, Scope("990101")) == {2023: 4, 2024: 1}
