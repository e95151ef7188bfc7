"""Per-key limits: a key past its rate or with too many requests in flight gets 429 with Retry-After; others not."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.db import Database
from service.limits import KeyLimits, RateLimitedError
from service.model_holder import ModelHolder
from service.settings import ServiceSettings
from service.tables import Role
from tests.service.api_support import KEY, bearer


def test_the_bucket_refills_at_the_role_rate_and_each_key_has_its_own() -> None:
    limits = KeyLimits({"official": 3}, concurrent=100)
    for _ in range(3):
        limits.acquire(1, "official", now=0.0)
        limits.release(1)
    with pytest.raises(RateLimitedError) as refused:
        limits.acquire(1, "official", now=0.0)
    assert refused.value.retry_after_s == 20  # one request per 20 s at 3 a minute
    limits.acquire(2, "official", now=0.0)  # another key is not affected
    limits.acquire(1, "official", now=20.0)  # refilled by then


def test_requests_in_flight_are_capped_per_key_and_released() -> None:
    limits = KeyLimits({"monitor": 0}, concurrent=2)  # 0: no rate limit
    limits.acquire(1, "monitor")
    limits.acquire(1, "monitor")
    with pytest.raises(RateLimitedError, match="in flight"):
        limits.acquire(1, "monitor")
    limits.release(1)
    limits.acquire(1, "monitor")


def test_the_api_answers_429_with_retry_after_past_the_rate(
    settings: ServiceSettings, holder: ModelHolder, db: Database
) -> None:
    tight = settings.model_copy(update={"rate_limits_per_minute": {"official": 2, "monitor": 60_000}})
    with TestClient(create_app(tight, holder=holder, database=db, pseudonym_key=KEY)) as client:
        official, monitor = bearer(db, Role.OFFICIAL), bearer(db, Role.MONITOR)
        answers = [client.get("/v1/jobs", headers=official).status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        refused = client.get("/v1/jobs", headers=official)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/jobs", headers=monitor).status_code == 200  # another key is served


def test_a_request_in_flight_is_released_once_answered(
    settings: ServiceSettings, holder: ModelHolder, db: Database
) -> None:
    one_at_a_time = settings.model_copy(update={"concurrent_requests_per_key": 1})
    with TestClient(create_app(one_at_a_time, holder=holder, database=db, pseudonym_key=KEY)) as client:
        headers = bearer(db, Role.MONITOR)
        answers = [client.get("/v1/jobs", headers=headers).status_code for _ in range(5)]
        assert answers == [200] * 5
        assert client.get("/v1/households/H404/scores", headers=headers).status_code == 404  # errors release too
        assert client.get("/v1/jobs", headers=headers).status_code == 200
