"""Security headers: every answer refuses sniffing and framing; API answers with household data are never cached."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from fastapi.testclient import TestClient

from service.db import Database
from service.tables import Role
from tests.service.api_support import bearer


def test_api_answers_are_not_stored_and_refuse_sniffing_and_framing(client: TestClient, db: Database) -> None:
    headers = bearer(db, Role.MONITOR)
    answers = [
        client.get("/v1/references/villages", headers=headers),  # 200 with data
        client.get("/v1/households/H1/scores", headers=headers),  # 404: an error body is data too
        client.post("/v1/profiles:score", json={"profiles": [{"x": 1}]}, headers=headers),  # 422
    ]
    for answer in answers:
        assert answer.headers["cache-control"] == "no-store", answer.request.url
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"


def test_health_checks_carry_the_page_headers_but_may_be_cached(client: TestClient) -> None:
    answer = client.get("/health/live")
    assert answer.status_code == 200
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in answer.headers
