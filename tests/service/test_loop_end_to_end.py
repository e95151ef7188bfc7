"""The monitoring loop through the real app: a household document is scored high → a signed alert reaches a real
receiver on loopback → the household is on its village's work list → a visit finds it not at risk → it leaves
the list → a department pushes an accident → the household is re-scored at once from its kept rows, the new score
names a new risk type and the household is back on the list → its next document carries the event too."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from models.explain import explain_households
from service.alerts import dispatch, http_post
from service.app import create_app
from service.db import Database
from service.model_holder import ModelHolder
from service.reports.work_table import COLUMNS
from service.tables import Role
from tests.service.api_support import AS_OF, COUNTY, KEY, Registered, bearer, document, service_settings
from tests.service.test_alerts import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture
def loop_client(tmp_path: Path, db: Database, holder: ModelHolder) -> Iterator[TestClient]:
    settings = service_settings(tmp_path, db, alert_hosts=["127.0.0.1"], job_runner=False)
    with TestClient(create_app(settings, holder=holder, database=db, pseudonym_key=KEY)) as client:
        yield client


def _candidates(batch_profiles: pd.DataFrame, holder: ModelHolder) -> list[str]:
    """County households that are no monitoring object, highest probability first, whose reasons leave room for
    a new risk type: at most two named now (a household already showing three risk types shows its strongest
    three, and a new accident with little weight would not be among them)."""
    assert holder.current is not None
    probability = holder.current.model.predict_proba(batch_profiles)
    eligible = batch_profiles["region_code"].astype(str).str.startswith(COUNTY).to_numpy().copy()
    if "monitoring_status" in batch_profiles:
        eligible &= (batch_profiles["monitoring_status"] == "not_monitored").to_numpy()
    order = [int(i) for i in np.argsort(-probability) if eligible[i]][:40]
    explained = explain_households(holder.current.model, batch_profiles.iloc[order].reset_index(drop=True))
    return [
        str(batch_profiles["household_id"].iloc[i])
        for i, explanation in zip(order, explained, strict=True)
        if len(explanation.risk_types) <= 2 and "05" not in {r.key for r in explanation.risk_types}
    ]


def _listed(client: TestClient, headers: dict[str, str], village: str) -> list[str]:
    """The pseudonyms on the village's work list (its CSV export), room for every household."""
    answer = client.get(f"/reports/region/{village}?format=csv&lang=en&visits_per_village=500", headers=headers)
    assert answer.status_code == 200, answer.text
    table = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    return [row[COLUMNS.index("pseudonym")] for row in table[1:]]


def _score(client: TestClient, headers: dict[str, str], doc: dict[str, Any], as_of: str) -> dict[str, Any]:
    answer = client.post("/v1/households:score", json={"households": [doc], "as_of": as_of}, headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["items"][0])


def test_the_loop_from_a_high_score_to_a_visit_and_back_with_a_department_event(
    loop_client: TestClient,
    db: Database,
    holder: ModelHolder,
    registered: Registered,
    batch_profiles: pd.DataFrame,
) -> None:
    client = loop_client
    monitor, official = bearer(db, Role.MONITOR, COUNTY), bearer(db, Role.OFFICIAL, COUNTY)
    receiver = Receiver()
    try:
        created = client.post(
            "/v1/subscriptions", json={"url": receiver.url, "events": ["score.high"]}, headers=monitor
        )
        assert created.status_code == 201, created.text
        post = http_post()
        dispatch(db, post)  # the first round only sets the cursor

        # 1. The platform sends the household's document: its first score is high, a crossing into high risk.
        household = _candidates(batch_profiles, holder)[0]
        doc = document(registered, household)
        first = _score(client, monitor, doc, AS_OF)
        village = first["region_code"]
        assert first["risk_level"] == "high"
        before = {r["key"] for r in first["reasons"]}
        assert "05" not in before

        # 2. The alert reaches the subscriber's receiver, once.
        assert dispatch(db, post) == 1
        (alert,) = receiver.events("score.high")
        assert alert["household_pseudonym"] == household and alert["previous_level"] is None

        # 3. The household is on its village's work list.
        assert household in _listed(client, official, village)

        # 4. A grid worker visits and finds it not at risk: it leaves the list.
        visit = {"visited_on": "2025-07-10", "visitor_role": "grid_worker", "outcome": "not_at_risk"}
        recorded = client.post(f"/v1/households/{household}/visits", json=visit, headers=official)
        assert recorded.status_code == 201, recorded.text
        assert household not in _listed(client, official, village)

        # 5. A department pushes an accident of a member: the household's kept rows take it and it is re-scored
        # at once, as of the day after the accident. The new score names a new risk type (05, accident), so the
        # household is back on the list. It was high before, so no new crossing is announced.
        member = doc["members"][0]["member_id"]
        accident = {
            "event_id": f"AJ-{household}",
            "household_id": household,
            "member_id": member,
            "event_type": "accident",
            "event_date": "2025-07-20",
            "source_department": "emergency",
        }
        pushed = client.post("/v1/events", json={"events": [accident]}, headers=monitor)
        assert pushed.status_code == 201, pushed.text
        (answered,) = pushed.json()["events"]
        assert answered["scoring"] == "rescored" and answered["score"]["as_of"] == "2025-07-21"
        assert "05" in {r["key"] for r in answered["score"]["reasons"]}
        assert household in _listed(client, official, village)
        assert dispatch(db, post) == 0 and len(receiver.events("score.high")) == 1

        # 6. The next document carries the stored event: the same risk type, no new crossing, and the household
        # stays listed (the visit is judged against the score it saw, not against the event's re-score).
        stored = client.get(f"/v1/households/{household}/events", headers=official).json()["events"]
        later = {**doc, "events": [*doc["events"], stored[0]["row"]]}
        second = _score(client, monitor, later, "2025-08-01")
        assert "05" in {r["key"] for r in second["reasons"]}
        assert household in _listed(client, official, village)
        assert dispatch(db, post) == 0 and len(receiver.events("score.high")) == 1
        feed = client.get("/v1/scores", headers=official).json()["items"]
        assert [(i["household_pseudonym"], i["previous_level"]) for i in feed] == [
            (household, None),
            (household, "high"),
            (household, "high"),
        ]
    finally:
        receiver.server.shutdown()
