"""Every POST that takes a body shows a request example in the OpenAPI document, and every example is a request
the app accepts: sent in turn to the real app (the README's household first, so the later examples find it)."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.db import Database
from service.model_holder import ModelHolder
from service.tables import Role
from tests.service.api_support import KEY, bearer, service_settings

README_EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "household.json"
SERVICE_EXAMPLE = Path(__file__).parents[2] / "service" / "examples" / "household.json"


@pytest.fixture
def examples_client(tmp_path: Path, db: Database, holder: ModelHolder) -> Iterator[TestClient]:
    root = tmp_path / "sources"
    (root / "county-990108" / "2025-07").mkdir(parents=True)
    settings = service_settings(
        tmp_path, db, alert_hosts=["alerts.county.example"], jobs_allowed_root=root, job_runner=False
    )
    with TestClient(create_app(settings, holder=holder, database=db, pseudonym_key=KEY)) as client:
        yield client


def _example(document: dict[str, Any], content: dict[str, Any]) -> Any:
    if "example" in content:
        return content["example"]
    schema = content["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema.get("examples", [None])[0]


def test_every_post_body_has_an_example_the_app_accepts(examples_client: TestClient, db: Database) -> None:
    client = examples_client
    assert json.loads(SERVICE_EXAMPLE.read_text()) == json.loads(README_EXAMPLE.read_text())  # one example
    document = client.get("/openapi.json").json()
    bodies: dict[str, dict[str, Any]] = {}
    for path, operations in document["paths"].items():
        body = operations.get("post", {}).get("requestBody")
        if body is None:
            continue
        for content_type, content in body["content"].items():
            if content_type == "application/x-www-form-urlencoded":
                continue  # the report sign-in form of the browser pages
            example = _example(document, content)
            assert example is not None, (path, content_type)
            if content_type == "application/json":
                bodies[path] = example
    admin = bearer(db, Role.ADMIN, "")
    order = ["/v1/households:score", "/v1/profiles:score", "/v1/households/{pseudonym}/visits", "/v1/events"]
    assert set(order) <= set(bodies)
    for path in order + sorted(set(bodies) - set(order)):
        url = path.replace("{pseudonym}", "H000000212").replace("{code}", "990108")
        answer = client.post(url, json=bodies[path], headers=admin)
        assert answer.status_code in (200, 201, 202), (path, answer.text[:500])
