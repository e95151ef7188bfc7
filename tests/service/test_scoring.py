"""The scoring path's shortcuts give bitwise what the plain pandas path gives: answers, explanations, decisions.

The shortcuts' own equality tests sit beside them: tests/service/test_profile_rows.py (rows → frame or values),
tests/models/test_prepare_rows.py (→ matrix).
"""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from models.explain import explain_households
from service import scoring
from service.db import Database
from service.keys import Caller
from service.model_holder import ModelHolder
from service.profile_rows import profile_values, profiles_from_rows
from service.scope import Scope
from service.settings import ServiceSettings
from service.store import Decisions
from service.tables import Role
from tests.service.api_support import bearer
from tests.service.profile_rows_cases import county_rows, random_rows

AS_OF = date(2025, 7, 1)


def test_the_api_answers_what_explain_households_says(
    client: TestClient, db: Database, holder: ModelHolder, batch_profiles: pd.DataFrame
) -> None:
    assert holder.current is not None
    rows = county_rows(batch_profiles, 5)
    response = client.post("/v1/profiles:score", json={"profiles": rows}, headers=bearer(db, Role.MONITOR))
    assert response.status_code == 200, response.text
    frame = profiles_from_rows(rows, date.today())
    expected = explain_households(holder.current.model, frame, explainer=holder.current.explainer)
    for item, explanation in zip(response.json()["items"], expected, strict=True):
        assert item["probability"] == explanation.probability
        assert item["reasons"] == [
            {"key": r.key, "code": r.code, "zh": r.zh, "en": r.en, "points": r.points}
            | {"sentence_zh": r.sentence_zh, "sentence_en": r.sentence_en}
            for r in explanation.reasons
        ]
        assert [(m["measure"], m["probability_after"]) for m in item["measures"]] == [
            (w.measure, w.probability_after) for w in explanation.what_if
        ]


@pytest.mark.parametrize("explain", [True, False])
def test_identical_requests_get_identical_answers(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame, explain: bool
) -> None:
    body = {"profiles": county_rows(batch_profiles, 3), "explain": explain}
    headers = bearer(db, Role.MONITOR)
    first, again = (client.post("/v1/profiles:score", json=body, headers=headers) for _ in range(2))
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()


@pytest.mark.parametrize("explain", [True, False])
def test_scoring_the_values_answers_and_records_what_scoring_the_frame_does(
    holder: ModelHolder, db: Database, batch_profiles: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, explain: bool
) -> None:
    """The whole decision — response, stored score, audit entry and input hash — from the row values and from
    the frame, on real households with random gaps."""
    assert holder.current is not None
    recorded: list[list[dict[str, Any]]] = []

    def record(connection: object, parts: list[Decisions]) -> None:
        recorded.append([row for part in parts for row in part.prepared])

    monkeypatch.setattr(scoring, "write_decisions", record)
    caller = Caller(None, Role.MONITOR, Scope("99"))
    context = scoring.ScoreContext(caller, holder.current, db, ServiceSettings(database_url="sqlite://"))
    for seed in range(30):
        rows = random_rows(batch_profiles, seed)
        by_values = scoring.score_profiles(context, profile_values(rows, AS_OF), explain=explain)
        by_frame = scoring.score_profiles(context, profiles_from_rows(rows, AS_OF), explain=explain)
        assert by_values.model_dump_json() == by_frame.model_dump_json()
        assert recorded[-2] == recorded[-1]
