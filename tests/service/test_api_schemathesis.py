"""Schemathesis against the real app: generated requests to every operation get no server error, and every answer
— success or problem — matches the OpenAPI document (status code, content type, body schema, headers).

One check is left out: "schema-valid data is accepted". A household document's JSON Schema says only that its
tables are lists of rows; the data contract's rules (required columns, codes, dates, one row per key) are checked
by the contract's validator and answered with 422 naming each violation, which is the documented behaviour."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.app import create_app
from service.db import Database
from service.model_holder import ModelHolder
from service.tables import Role
from tests.service.api_support import KEY, bearer, service_settings

# Cases per operation: 25 in CI (about 450 requests in a minute); RELAPSE_SCHEMATHESIS_EXAMPLES=600 for a long run.
EXAMPLES = int(os.environ.get("RELAPSE_SCHEMATHESIS_EXAMPLES", "25"))


@pytest.fixture
def running_app(tmp_path: Path, db: Database, holder: ModelHolder, county_folder: Path) -> Iterator[FastAPI]:
    """The app with its lifespan running (database, model, key, lanes), as uvicorn runs it."""
    settings = service_settings(tmp_path, db, jobs_allowed_root=county_folder, job_runner=False)
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app):
        yield app


@pytest.mark.slow
def test_every_operation_answers_as_documented(running_app: FastAPI, db: Database) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", running_app).include(path_regex="^/v1/")
    headers = bearer(db, Role.ADMIN, "")
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={**headers, **(case.headers or {})}, excluded_checks=[positive_data_acceptance]
            )

        try:
            answers_as_documented()
        except Exception as error:  # noqa: BLE001 — collect every operation's failure, then report them all
            failures[operation.label] = str(error)[:2000]
    assert operations >= 15
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
