"""Schemathesis with household documents that keep the data contract, so that the scoring code runs: every
`households:score` request is answered 200, with no server error, and as the OpenAPI document says.

`test_api_schemathesis.py` generates bodies from the JSON Schema, which says only that a document's tables are
lists of rows, so nearly all its documents are refused by the contract's validator. Here each document starts
from a household of the simulated city (as `document` builds it), and hypothesis varies what a source system may
vary without breaking the contract: which optional records it sends (any subset of the events, assistance
spells, checks, identifications and income years, the member statuses), the order of rows, whether the village
row comes along, the reference date, and how many households one request carries. The city covers households of
every kind (monitored, eliminated, never identified) across several counties.

Batch jobs get the same treatment: each job's folder holds the source tables of 1 to 25 drawn households with
rows of the partial tables left out at random; every job is accepted (202), runs to `done` with exactly its
households, and its status and results answer as documented.

Cases: `RELAPSE_SCHEMATHESIS_DOCUMENTS` requests (default 500) and `RELAPSE_SCHEMATHESIS_JOBS` jobs (default 15);
raise them for a long run. With `test_api_schemathesis.py` that makes over 10,000 requests on each backend; the
cost per run is in docs/security.md. The test fails unless every one of the requests was answered 200.
"""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from features.profiles.build import select_households
from features.reading.sources import Sources, write_sources
from service.app import create_app
from service.db import Database
from service.model_holder import ModelHolder
from service.tables import Role
from tests.service.api_support import KEY, Registered, bearer, document, rows_of, service_settings, wait_for_job

CASES = int(os.environ.get("RELAPSE_SCHEMATHESIS_DOCUMENTS", "500"))
JOBS = int(os.environ.get("RELAPSE_SCHEMATHESIS_JOBS", "15"))
# No shrinking: a failing document is reported as drawn, since shrinking one can take longer than the whole run.
PHASES = [Phase.explicit, Phase.generate]
# Tables whose rows a source system may send in part: each row is kept or left out independently.
PARTIAL = ("member_status", "income", "events", "assistance", "housing_checks", "water_checks", "identifications")


REFERENCE_COUNTY = "990101"


@pytest.fixture
def running_app(tmp_path: Path, db: Database, holder: ModelHolder) -> Iterator[tuple[FastAPI, TestClient]]:
    settings = service_settings(tmp_path, db, job_runner=False, rate_limits_per_minute={})
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app) as client:
        yield app, client


def _load_reference(client: TestClient, db: Database, registered: Registered) -> set[str]:
    """Give the service the villages of one county as its reference; the region codes it then knows."""
    villages = registered.city["villages"]
    known = villages[villages["region_code"].astype(str).str.startswith(REFERENCE_COUNTY)]
    rows = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in known.to_dict("records")]
    loaded = client.put("/v1/references/villages", json={"villages": rows}, headers=bearer(db, Role.ADMIN, ""))
    assert loaded.status_code == 200, loaded.text
    return set(known["region_code"].astype(str))


def _rows_by_household(frame: pd.DataFrame, household_ids: pd.Series) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for household_id, row in zip(household_ids.astype(str), rows_of(frame), strict=True):
        grouped[household_id].append(row)
    return grouped


@pytest.fixture(scope="session")
def city_documents(registered: Registered) -> dict[str, dict[str, Any]]:
    """Every household's document as `document` builds it, from one pass over each table, not one a household."""
    city = registered.city
    households = city["households"]
    member_household = city["members"].set_index("member_id")["household_id"]
    tables = {
        name: _rows_by_household(city[name], city[name]["household_id"])
        for name in ("members", "income", "events", "assistance", "housing_checks", "water_checks", "identifications")
    }
    status = city["member_status"]
    tables["member_status"] = _rows_by_household(status, status["member_id"].map(member_household))
    if "civil_affairs" in city.tables:  # the source system holds the table: sent, even when empty
        tables["civil_affairs"] = _rows_by_household(city["civil_affairs"], city["civil_affairs"]["household_id"])
    villages = {row["region_code"]: row for row in reversed(rows_of(city["villages"]))}  # the first row of a code
    out: dict[str, dict[str, Any]] = {}
    for household in rows_of(households):
        household_id = str(household["household_id"])
        sent: dict[str, Any] = {"household": household}
        sent.update({name: rows.get(household_id, []) for name, rows in tables.items()})
        sent["village"] = villages[household["region_code"]]
        out[household_id] = sent
    return out


def test_documents_built_together_equal_those_built_one_by_one(
    registered: Registered, city_documents: dict[str, dict[str, Any]]
) -> None:
    ids = sorted(registered.city["households"]["household_id"].astype(str))
    assert sorted(city_documents) == ids
    for household_id in ids[:: len(ids) // 20]:
        assert city_documents[household_id] == document(registered, household_id), household_id


# A share of a table's rows kept: none and all as often as hypothesis likes them, and anything between.
SHARES = st.sampled_from((0.0, 1.0)) | st.floats(0.0, 1.0)


def documents(city_documents: dict[str, dict[str, Any]], known_villages: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Contract-valid household documents, drawn from the simulated city and varied as a source system may.

    Hypothesis draws the household, the share of each partial table kept and a seed; the seed picks the rows and
    their order. One draw per table instead of one per row keeps generation cheap next to the scoring it feeds."""
    ids = sorted(city_documents)

    @st.composite
    def one(draw: st.DrawFn, household_id: str) -> dict[str, Any]:
        sent = dict(city_documents[household_id])  # new lists below; the rows themselves are shared, never changed
        shares = {table: draw(SHARES) for table in PARTIAL}
        rng = random.Random(draw(st.integers(0, 2**32 - 1)))
        for table, share in shares.items():
            sent[table] = [row for row in sent[table] if rng.random() < share]
            rng.shuffle(sent[table])
        sent["members"] = rng.sample(sent["members"], len(sent["members"]))
        if sent["household"]["region_code"] in known_villages and draw(st.booleans()):
            del sent["village"]  # the service's reference knows the village
        return sent

    @st.composite
    def request(draw: st.DrawFn) -> dict[str, Any]:
        households = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=4, unique=True))
        body: dict[str, Any] = {"households": [draw(one(h)) for h in households]}
        if draw(st.booleans()):
            body["as_of"] = draw(st.dates(date(2019, 1, 1), date(2027, 12, 31))).isoformat()
        if draw(st.booleans()):
            body["explain"] = draw(st.booleans())
        return body

    return request()


@pytest.mark.slow
def test_contract_valid_documents_are_scored_as_documented(
    running_app: tuple[FastAPI, TestClient],
    db: Database,
    registered: Registered,
    city_documents: dict[str, dict[str, Any]],
    record_property: Callable[[str, object], None],
) -> None:
    app, client = running_app
    known_villages = _load_reference(client, db, registered)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema["/v1/households:score"]["POST"]
    headers = bearer(db, Role.MONITOR, "99")  # the whole simulated province
    statuses: Counter[int] = Counter()
    refusals: Counter[str] = Counter()

    @given(body=documents(city_documents, known_villages))
    @settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck), database=None, phases=PHASES)
    def scored_as_documented(body: dict[str, Any]) -> None:
        case = operation.Case(body=body, media_type="application/json")
        response = case.call_and_validate(headers=headers)
        statuses[response.status_code] += 1
        if response.status_code != 200:
            refusals.update(f"{e.get('column')} {e.get('reason')}" for e in response.json().get("errors", []))

    started, cpu = time.monotonic(), time.process_time()
    scored_as_documented()
    record_property("requests", statuses.total())
    record_property("seconds", round(time.monotonic() - started, 1))
    record_property("cpu_seconds", round(time.process_time() - cpu, 1))  # the app runs in this process too
    assert statuses[200] == CASES, (dict(statuses), refusals)


@pytest.fixture
def jobs_app(tmp_path: Path, db: Database, holder: ModelHolder) -> Iterator[tuple[FastAPI, TestClient, Path]]:
    root = tmp_path / "sources"
    root.mkdir()
    settings = service_settings(tmp_path, db, jobs_allowed_root=root, job_chunk_households=7, rate_limits_per_minute={})
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app) as client:
        yield app, client, root


def job_requests(registered: Registered) -> st.SearchStrategy[tuple[list[str], int, dict[str, Any]]]:
    """(households, seed for the rows left out, the rest of the body) of a job over contract-valid tables."""
    ids = sorted(registered.city["households"]["household_id"].astype(str))
    options = st.fixed_dictionaries(
        {},
        optional={
            "as_of": st.dates(date(2019, 1, 1), date(2027, 12, 31)).map(date.isoformat),
            "explain": st.booleans(),
        },
    )
    return st.tuples(
        st.lists(st.sampled_from(ids), min_size=1, max_size=25, unique=True), st.integers(0, 2**32 - 1), options
    )


def _write_job_folder(registered: Registered, households: list[str], seed: int, folder: Path) -> None:
    """The households' tables, each partial table keeping a random share of its rows."""
    chosen = select_households(registered.city, households)
    rng = np.random.default_rng(seed)
    tables = dict(chosen.tables)
    for name in PARTIAL:
        frame = tables[name]
        tables[name] = frame[rng.random(len(frame)) < rng.random()].reset_index(drop=True)
    write_sources(Sources(tables, chosen.manifest), folder)


@pytest.mark.slow
def test_jobs_over_contract_valid_tables_run_to_done_as_documented(
    jobs_app: tuple[FastAPI, TestClient, Path], db: Database, registered: Registered
) -> None:
    app, client, root = jobs_app
    # The document as a dict and the calls through the fixture's client: loading it or calling through the ASGI
    # app would run the app's lifespan again and leave a second job runner holding the runner lease.
    schema = schemathesis.openapi.from_dict(app.openapi())
    headers = bearer(db, Role.MONITOR, "99")
    submitted: dict[str, int] = {}  # job id → households

    @given(request=job_requests(registered))
    @settings(max_examples=JOBS, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def accepted_as_documented(request: tuple[list[str], int, dict[str, Any]]) -> None:
        households, seed, body = request
        name = f"job-{len(submitted)}"
        _write_job_folder(registered, households, seed, root / name)
        case = schema["/v1/jobs"]["POST"].Case(body={"path": name, **body}, media_type="application/json")
        response = client.post("/v1/jobs", json=case.body, headers=headers)
        # ignored_auth re-sends the request without credentials through its own transport, which a schema from a
        # dict lacks; refusing a request without a key is checked by tests/service/test_api_access.py.
        case.validate_response(response, excluded_checks=[checks.ignored_auth])
        assert response.status_code == 202, response.text
        submitted[response.json()["id"]] = len(households)

    accepted_as_documented()
    assert len(submitted) == JOBS
    for job_id, households in submitted.items():
        job = wait_for_job(client, job_id, headers, timeout_s=300)
        assert job["status"] == "done" and job["households_done"] == households, job
        status = schema["/v1/jobs/{job_id}"]["GET"].Case(path_parameters={"job_id": job_id})
        status.validate_response(
            client.get(f"/v1/jobs/{job_id}", headers=headers), excluded_checks=[checks.ignored_auth]
        )
        for format in ("parquet", "csv"):
            results = schema["/v1/jobs/{job_id}/results"]["GET"].Case(
                path_parameters={"job_id": job_id}, query={"format": format}
            )
            answer = client.get(f"/v1/jobs/{job_id}/results", params={"format": format}, headers=headers)
            results.validate_response(answer, excluded_checks=[checks.ignored_auth])
            assert answer.status_code == 200
