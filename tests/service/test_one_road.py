"""One road for a household: the same probability, reasons and measures through every way in.

The four roads are `households:score` (a document, profiled with the service's villages reference),
`profiles:score` (the batch profile row), a batch job of the service and `relapse score`'s streaming scorer
(`scoring.run.score_partitions`) over the same folder. The independent expectation for validation is
`features.validation.report.validate_sources` — what `relapse validate` runs — over the same rows.
"""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import copy
import io
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from features.reading.partitions import PartitionedSources
from features.reading.sources import Sources
from features.validation.report import validate_sources
from models.batch import BatchOptions
from models.record import (
    EXPECTED_TYPE_FIELDS,
    READINESS_FIELDS,
    STATUS_FIELDS,
    flat_expected_type,
    flat_readiness,
    nested_status,
)
from scoring.job import ScoringJob
from scoring.run import score_partitions
from service.db import Database
from service.model_holder import ModelHolder
from service.tables import AuditEntry, Role, ScoreRecord
from tests.service.api_support import (
    AS_OF,
    COUNTY,
    KEY,
    Registered,
    bearer,
    county_households,
    document,
    profile_row,
    wait_for_job,
)


def _run_job(client: TestClient, headers: dict[str, str]) -> pd.DataFrame:
    submitted = client.post("/v1/jobs", json={"path": "county", "as_of": AS_OF}, headers=headers)
    assert submitted.status_code == 202, submitted.text
    job = wait_for_job(client, submitted.json()["id"], headers, timeout_s=300)
    assert job["status"] == "done", job
    results = client.get(job["results"], headers=headers)
    return pd.read_parquet(io.BytesIO(results.content)).set_index("household_pseudonym")


def _streamed(holder: ModelHolder, folder: Path) -> pd.DataFrame:
    serving = holder.current
    assert serving is not None
    job = ScoringJob(
        serving.model, serving.version, date.fromisoformat(AS_OF), BatchOptions(), key=KEY, explainer=serving.explainer
    )
    tables = [table for _, table in score_partitions(job, PartitionedSources.read(folder))]
    return pa.concat_tables(tables).to_pandas().set_index("household_id")


def _status(fields: dict[str, Any]) -> tuple[Any, ...]:
    """The monitoring status fields of a nested record (dates as ISO text, as JSON carries them)."""
    nested = nested_status(fields)
    return tuple(value.isoformat() if isinstance(value, date) else value for value in nested.values())


def _flat(row: pd.Series) -> dict[str, Any]:
    """A flat result row (batch job, `relapse score`) as the API's item: probability, reasons, measures, status."""
    reasons = [
        (row[f"reason{k}_key"], float(row[f"reason{k}_points"]))
        for k in range(1, 4)
        if isinstance(row.get(f"reason{k}_key"), str)
    ]
    measures = [
        (row[f"measure{k}_code"], float(row[f"measure{k}_probability_after"]))
        for k in range(1, 7)
        if isinstance(row.get(f"measure{k}_code"), str)
    ]
    cells = {name: (None if pd.isna(row[name]) else row[name]) for name in STATUS_FIELDS}
    return {
        "probability": float(row["probability"]),
        "identification": None if pd.isna(row["identification_probability"]) else row["identification_probability"],
        "reasons": reasons,
        "measures": measures,
        "status": _status(cells),
        "type": tuple(None if pd.isna(row[name]) else row[name] for name in EXPECTED_TYPE_FIELDS),
        "readiness": tuple(None if pd.isna(row[name]) else row[name] for name in READINESS_FIELDS),
    }


def _nested(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "probability": item["probability"],
        "identification": item["identification_probability"],
        "reasons": [(r["key"], r["points"]) for r in item["reasons"]],
        "measures": [(m["measure"], m["probability_after"]) for m in item["measures"]],
        "status": _status({name: item[name] for name in STATUS_FIELDS}),
        "type": tuple(flat_expected_type(item["expected_monitoring_type"]).values()),
        "readiness": tuple(flat_readiness(item["elimination_readiness"]).values()),
    }


@pytest.mark.slow
def test_four_roads_give_one_answer_for_every_household(
    jobs_client: TestClient,
    db: Database,
    holder: ModelHolder,
    registered: Registered,
    batch_profiles: pd.DataFrame,
    county_folder: Path,
) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    job_rows = _run_job(jobs_client, headers)  # stores the folder's villages as the service's reference
    streamed = _streamed(holder, county_folder / "county")
    reference = jobs_client.get("/v1/references/villages", headers=headers).json()
    version = reference["version"]
    assert version is not None and version.startswith("villages-v") and reference["villages"] > 0
    positions = {str(h): i for i, h in enumerate(batch_profiles["household_id"])}

    # Households of every status are drawn: the monitored and eliminated ones are few among the county's.
    status = batch_profiles.set_index("household_id")["monitoring_status"]
    county = sorted(county_households(registered))
    by_status = {name: [h for h in county if status[h] == name] for name in ("monitored", "eliminated")}
    assert all(by_status.values()), "the county needs households of each status"

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        household=st.one_of(st.sampled_from(county), *(st.sampled_from(ids) for ids in by_status.values())),
        drop_village=st.booleans(),
    )
    def one_answer(household: str, drop_village: bool) -> None:
        sent = document(registered, household)
        if drop_village:
            del sent["village"]  # the reference knows the village: the document need not carry it
        by_document = jobs_client.post(
            "/v1/households:score", json={"households": [sent], "as_of": AS_OF}, headers=headers
        )
        assert by_document.status_code == 200, by_document.text
        item = by_document.json()["items"][0]
        assert item["context_version"] == version
        by_profile = jobs_client.post(
            "/v1/profiles:score",
            json={"profiles": [profile_row(batch_profiles, positions[household])], "as_of": AS_OF},
            headers=headers,
        )
        assert by_profile.status_code == 200, by_profile.text
        answers = [
            _nested(item),
            _nested(by_profile.json()["items"][0]),
            _flat(job_rows.loc[household]),
            _flat(streamed.loc[household]),
        ]
        assert all(answer == answers[0] for answer in answers[1:]), (household, answers)
        # The need model's second output, on every road; none for a household already under monitoring.
        found = answers[0]["identification"]
        assert (found is None) == (answers[0]["status"][0] == "monitored")
        assert found is None or 0 <= found <= 1
        statuses.add(answers[0]["status"][0])
        types.add(answers[0]["type"][0])
        # A monitoring object's record lists every elimination condition; no other household's has one.
        assert (answers[0]["readiness"][0] is not None) == (answers[0]["status"][0] == "monitored")

    statuses: set[str] = set()
    types: set[str | None] = set()
    one_answer()
    assert None not in types  # every road carried the type the household would enter as, or its recorded one
    assert "unknown" not in statuses  # the roads built or carried the profile's status
    with db.session() as session:
        versions = set(session.scalars(select(ScoreRecord.context_version).where(ScoreRecord.job_id.isnot(None))))
        # One input-hash rule: a household's audit entries from the API and from the job name the same input.
        by_road: dict[str, set[str]] = {}
        for pseudonym, digest in session.execute(select(AuditEntry.household_pseudonym, AuditEntry.input_hash)):
            by_road.setdefault(pseudonym, set()).add(digest)
    assert versions == {version}
    scored_twice = {household: digests for household, digests in by_road.items() if len(digests) > 1}
    assert not scored_twice, scored_twice
    assert all(digest.startswith("blake2b:") for digests in by_road.values() for digest in digests)


def test_a_document_village_the_reference_knows_does_not_change_the_context(
    jobs_client: TestClient, db: Database, registered: Registered, county_folder: Path
) -> None:
    admin = bearer(db, Role.ADMIN, "")
    villages = pd.read_parquet(county_folder / "city" / "villages.parquet")
    rows = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in villages.to_dict("records")]
    loaded = jobs_client.put("/v1/references/villages", json={"villages": rows}, headers=admin)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["stored"] is True
    again = jobs_client.put("/v1/references/villages", json={"villages": rows}, headers=admin)
    assert again.json() == {**loaded.json(), "stored": False}  # the same table keeps its version

    headers = bearer(db, Role.MONITOR, COUNTY)
    household = str(county_households(registered).iloc[0])
    sent = document(registered, household)
    changed = copy.deepcopy(sent)
    other = "general" if sent["village"]["village_type"] != "general" else "former_poor"
    changed["village"]["village_type"] = other  # a stale or wrong copy of the village in the request
    answers = [
        jobs_client.post("/v1/households:score", json={"households": [d], "as_of": AS_OF}, headers=headers).json()
        for d in (sent, changed)
    ]
    assert answers[0]["items"][0]["probability"] == answers[1]["items"][0]["probability"]
    assert answers[1]["items"][0]["context_version"] == loaded.json()["version"]


def test_only_an_admin_loads_a_villages_reference_and_a_bad_one_lists_every_violation(
    jobs_client: TestClient, db: Database, county_folder: Path
) -> None:
    villages = pd.read_parquet(county_folder / "city" / "villages.parquet").head(3)
    rows = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in villages.to_dict("records")]
    refused = jobs_client.put("/v1/references/villages", json={"villages": rows}, headers=bearer(db, Role.MONITOR))
    assert refused.status_code == 403
    rows[0]["village_type"] = "not-a-type"
    rows[2]["collective_income_yuan"] = -5.0
    bad = jobs_client.put("/v1/references/villages", json={"villages": rows}, headers=bearer(db, Role.ADMIN, ""))
    assert bad.status_code == 422, bad.text
    found = {(e["field"], e["row"], e["reason"]) for e in bad.json()["errors"]}
    assert found == {
        ("villages.village_type", 0, "bad_code"),
        ("villages.collective_income_yuan", 2, "negative_amount"),
    }
    current = jobs_client.get("/v1/references/villages", headers=bearer(db, Role.MONITOR)).json()
    assert current["version"] is None  # nothing was stored


# --- validation: the API reports what the batch validator reports ----------------------------------------------

INJECTIONS = ("negative_wage", "duplicate_income", "future_event", "bad_code", "missing_required", "unreadable")


def _inject(sent: dict[str, Any], kind: str) -> None:
    """Break one contract rule in the document (each kind where the document has the rows it needs)."""
    if kind == "negative_wage" and sent["income"]:
        sent["income"][0]["wage_local_yuan"] = -100.0
    elif kind == "duplicate_income" and sent["income"]:
        sent["income"].append(dict(sent["income"][-1]))
    elif kind == "future_event" and sent["events"]:
        sent["events"][0]["event_date"] = "2030-03-01"
    elif kind == "bad_code" and sent["members"]:
        sent["members"][0]["gender"] = "unknown-code"
    elif kind == "missing_required" and sent["members"]:
        sent["members"][-1]["birth_date"] = None
    elif kind == "unreadable" and sent["housing_checks"]:
        sent["housing_checks"][0]["housing_area_m2"] = "eighty"


def _expected(sent: dict[str, Any]) -> set[tuple[str, str, str, int | None]]:
    """`relapse validate`'s findings on the document's rows as tables: (table, column, reason, row in table)."""
    tables = {"households": [sent["household"]], "villages": [sent["village"]]}
    for name in ("members", "member_status", "income", "events", "assistance", "housing_checks", "water_checks"):
        tables[name] = [{"household_id": sent["household"]["household_id"], **r} for r in sent.get(name, [])]
    tables["identifications"] = list(sent.get("identifications", []))
    frames = {name: pd.DataFrame(rows) for name, rows in tables.items() if rows}
    report = validate_sources(Sources(frames, {}))  # the same "today" as the service
    return {(v.table, v.column, v.reason, None if v.row is None else v.row - 1) for v in report.violations}


@pytest.mark.slow
def test_the_api_reports_every_violation_the_batch_validator_finds(
    client: TestClient, db: Database, registered: Registered
) -> None:
    headers = bearer(db, Role.MONITOR)
    ids = sorted(county_households(registered))

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(household=st.sampled_from(ids), kinds=st.sets(st.sampled_from(INJECTIONS), min_size=1))
    def same_findings(household: str, kinds: set[str]) -> None:
        sent = document(registered, household)
        for kind in sorted(kinds):
            _inject(sent, kind)
        expected = _expected(sent)
        answer = client.post("/v1/households:score", json={"households": [sent], "as_of": AS_OF}, headers=headers)
        if not expected:
            assert answer.status_code == 200, answer.text
            return
        assert answer.status_code == 422, answer.text
        body = answer.json()
        got = {(e["table"], e["column"], e["reason"], e["item"]) for e in body["errors"]}
        assert got == expected
        assert body["count"] == len(expected) and all(e["row"] == 0 for e in body["errors"])
        assert "eighty" not in answer.text and "unknown-code" not in answer.text  # values are never echoed

    same_findings()
    with db.session() as session:  # nothing invalid was scored or audited
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == session.scalar(
            select(func.count()).select_from(ScoreRecord)
        )


def test_a_document_with_three_faults_is_refused_naming_each(
    client: TestClient, db: Database, registered: Registered
) -> None:
    events = registered.city["events"]
    household = str(events.loc[events["household_id"].isin(county_households(registered)), "household_id"].iloc[0])
    sent = document(registered, household)
    assert sent["income"] and sent["events"], "the test needs income rows and an event"
    sent["income"][0]["wage_local_yuan"] = -1.0
    sent["income"].append(dict(sent["income"][0]))
    sent["events"][0]["event_date"] = "2099-01-01"
    answer = client.post(
        "/v1/households:score", json={"households": [sent], "as_of": AS_OF}, headers=bearer(db, Role.MONITOR)
    )
    assert answer.status_code == 422, answer.text
    reasons = {(e["field"], e["reason"]) for e in answer.json()["errors"]}
    assert {
        ("income.wage_local_yuan", "negative_amount"),
        ("income.household_id,income_year", "duplicate_key"),
        ("events.event_date", "future_date"),
    } <= reasons
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ScoreRecord)) == 0
