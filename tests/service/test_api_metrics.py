"""/metrics (Prometheus) and the champion poller."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import asyncio

import pandas as pd
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.app import poll_champion
from service.db import Database
from service.model_holder import ModelHolder
from service.tables import Role
from tests.service.api_support import bearer
from tests.service.test_api_scores import _household_in, profile_row


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_count_requests_scores_by_level_and_name_the_model(
    client: TestClient, db: Database, holder: ModelHolder, batch_profiles: pd.DataFrame
) -> None:
    rows = [_household_in(batch_profiles, "990101", k) for k in range(4)]
    body = {"profiles": [profile_row(batch_profiles, i) for i in rows]}
    answer = client.post("/v1/profiles:score", json=body, headers=bearer(db, Role.MONITOR))
    assert answer.status_code == 200, answer.text
    timing = answer.headers["Server-Timing"]  # the server-side time, as the service benchmark reads it
    assert timing.startswith("app;dur=") and float(timing.removeprefix("app;dur=")) > 0
    levels = pd.Series([item["risk_level"] for item in answer.json()["items"]]).value_counts()

    samples = _samples(client.get("/metrics").text)
    for level, count in levels.items():
        assert samples[("relapse_scores_total", (("level", str(level)),))] == count
    route = ("method", "POST"), ("route", "/v1/profiles:score"), ("status", "200")
    assert samples[("relapse_requests_total", route)] == 1
    assert samples[("relapse_request_seconds_count", (("route", "/v1/profiles:score"),))] == 1
    # One scoring pass, answering that one request (service._coalescing)
    passes = samples[("relapse_scoring_pass_requests_count", ())]
    assert passes == samples[("relapse_scoring_pass_requests_sum", ())] == 1
    assert holder.current is not None
    assert samples[("relapse_model_info", (("source", "registry"), ("version", holder.current.version)))] == 1
    # Paths are never labels: a household pseudonym in a URL must not become a metric label.
    client.get("/v1/households/abc123/scores", headers=bearer(db, Role.MONITOR))
    text = client.get("/metrics").text
    assert "abc123" not in text and "/v1/households/{pseudonym}/scores" in text


def test_the_poller_reloads_on_schedule_and_survives_failures(holder: ModelHolder) -> None:
    calls: list[str] = []

    class FlakyRegistry:
        """The real holder's registry, failing on every other call (a registry that comes and goes)."""

        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def resolve(self) -> str:
            calls.append("resolve")
            if len(calls) % 2:
                raise ConnectionError("registry unreachable")
            return self.inner.resolve()  # type: ignore[attr-defined, no-any-return]

    watched = ModelHolder(FlakyRegistry(holder.source), holder.cache_dir, holder.signing)  # type: ignore[arg-type]
    watched.current = holder.current

    async def run() -> None:
        task = asyncio.create_task(poll_champion(watched, 0.05))
        await asyncio.sleep(0.6)
        task.cancel()

    asyncio.run(run())
    assert len(calls) >= 4  # it kept polling after failures
    assert holder.current is not None and watched.current is not None
    assert watched.current.version == holder.current.version  # the serving model stayed in place
    assert watched.last_error == "registry unreachable"
