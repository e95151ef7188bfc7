"""Schemathesis against the real app: generated requests to every operation get no server error, and every answer
— success or problem — matches the OpenAPI document (status code, content type, body schema, headers).

One check is left out: "schema-valid data is accepted". A household document's JSON Schema says only that its
tables are lists of rows; the data contract's rules (required columns, codes, dates, one row per key) are checked
by the contract's validator and answered with 422 naming each violation, which is the documented behaviour.

Cases: `RELAPSE_SCHEMATHESIS_EXAMPLES` per operation (default 200), except `households:score`, which gets a
sixteenth of that: hypothesis spends most of such a case building a large JSON document that the contract then
refuses, and `test_api_schemathesis_documents.py` sends it contract-valid documents instead. The operations are
dealt round-robin into `SHARES` tests so that pytest-xdist can run them on several workers. Each test counts the
requests it sent and fails if an operation got fewer than its quota (hypothesis stops early when it runs out of
distinct inputs), so a run never passes on fewer cases than it claims. The cost per run is in docs/security.md.
"""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.app import create_app
from service.db import Database
from service.model_holder import ModelHolder
from service.tables import Role
from tests.service.api_support import KEY, bearer, service_settings

EXAMPLES = int(os.environ.get("RELAPSE_SCHEMATHESIS_EXAMPLES", "200"))
LARGE_BODIES = {"POST /v1/households:score": max(1, EXAMPLES // 16)}
SHARES = 3
# No shrinking: a failure is reported as generated (schemathesis prints a curl line to replay it), because shrinking a
# large document can take longer than the whole run; the examples written into the OpenAPI document still run.
PHASES = [Phase.explicit, Phase.generate]


@pytest.fixture
def running_app(tmp_path: Path, db: Database, holder: ModelHolder, county_folder: Path) -> Iterator[FastAPI]:
    """The app with its lifespan running (database, model, key, lanes), as uvicorn runs it."""
    settings = service_settings(tmp_path, db, jobs_allowed_root=county_folder, job_runner=False)
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app):
        yield app


@pytest.mark.slow
@pytest.mark.parametrize("share", range(SHARES))
def test_every_operation_answers_as_documented(
    running_app: FastAPI, db: Database, share: int, record_property: Callable[[str, object], None]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", running_app).include(path_regex="^/v1/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    headers = bearer(db, Role.ADMIN, "")
    failures: dict[str, str] = {}
    sent: Counter[str] = Counter()
    quota = {operation.label: LARGE_BODIES.get(operation.label, EXAMPLES) for operation in operations[share::SHARES]}
    started, cpu = time.monotonic(), time.process_time()
    for operation in operations[share::SHARES]:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=quota[operation.label],
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=PHASES,
        )
        def answers_as_documented(case: schemathesis.Case) -> None:
            sent[case.operation.label] += 1
            case.call_and_validate(
                headers={**headers, **(case.headers or {})}, excluded_checks=[positive_data_acceptance]
            )

        try:
            answers_as_documented()
        except Exception as error:  # noqa: BLE001 — collect every operation's failure, then report them all
            failures[operation.label] = str(error)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    short = {label: (sent[label], wanted) for label, wanted in quota.items() if sent[label] < wanted}
    assert not short, f"operations that got fewer requests than their quota (sent, quota): {short}"
    record_property("requests", sent.total())
    record_property("seconds", round(time.monotonic() - started, 1))
    record_property("cpu_seconds", round(time.process_time() - cpu, 1))  # the app runs in this process too
    print(f"share {share}: {sent.total()} requests over {len(quota)} operations")  # noqa: T201 — shown by -rP or -s
