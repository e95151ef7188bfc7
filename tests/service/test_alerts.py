"""Alerts: a subscriber on an allowed host hears once, signed, when a household of its region crosses into high
risk or a job ends; failed deliveries are retried under the same id; nothing reaches another region's subscriber."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.profiles.build import build_profiles
from features.pseudonyms.ingestion import ingest
from service.alerts import RETRY_BASE_S, deliver_due, dispatch, http_post
from service.app import create_app
from service.db import Database
from service.documents import profiles_from_documents
from service.keys import Caller, create_key
from service.model_holder import ModelHolder
from service.schemas import HouseholdDocument
from service.scope import Scope
from service.store import create_job, update_job
from service.tables import Delivery, JobStatus, Role, utcnow
from tests.service.api_support import AS_OF, COUNTY, KEY, Registered, bearer, document, profile_row, service_settings
from tests.service.test_api_access import OTHER_COUNTY


class Receiver:
    """A real HTTP endpoint on loopback that records what it is sent and answers with the next queued status."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — the http.server interface
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def cloud_events(self, event: str) -> list[dict[str, Any]]:
        return [json.loads(body) for headers, body in self.received if headers["x-relapse-event"] == event]

    def events(self, event: str) -> list[dict[str, Any]]:
        """The alerts' data (the CloudEvents' payloads) of one event."""
        return [cloud["data"] for cloud in self.cloud_events(event)]


def verify(headers: dict[str, str], body: bytes, secret: str, key_id: str) -> None:
    """What a receiver checks: the key id names its secret, the HMAC over "<timestamp>." + body matches, and the
    timestamp is recent (five minutes)."""
    assert headers["x-relapse-key-id"] == key_id
    stamp = headers["x-relapse-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-relapse-signature"], expected)
    assert abs(time.time() - int(stamp)) < 300


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()


@pytest.fixture
def alert_client(tmp_path: Path, db: Database, holder: ModelHolder) -> Iterator[TestClient]:
    settings = service_settings(tmp_path, db, alert_hosts=["127.0.0.1"], job_runner=False)
    with TestClient(create_app(settings, holder=holder, database=db, pseudonym_key=KEY)) as client:
        yield client


def _county_rows(batch_profiles: pd.DataFrame, holder: ModelHolder, count: int) -> list[dict[str, Any]]:
    """The county's `count` highest-risk households that are not monitoring objects, and as many low ones."""
    assert holder.current is not None
    probability = holder.current.model.predict_proba(batch_profiles)
    eligible = batch_profiles["region_code"].astype(str).str.startswith(COUNTY).to_numpy().copy()
    if "monitoring_status" in batch_profiles:
        eligible &= (batch_profiles["monitoring_status"] != "monitored").to_numpy()
    order = [i for i in np.argsort(-probability) if eligible[i]]
    return [profile_row(batch_profiles, int(i)) for i in order[:count] + order[-count:]]


def test_a_crossing_into_high_risk_is_sent_once_signed_and_only_to_its_region(
    alert_client: TestClient, db: Database, holder: ModelHolder, batch_profiles: pd.DataFrame, receiver: Receiver
) -> None:
    monitor = bearer(db, Role.MONITOR)
    created = alert_client.post(
        "/v1/subscriptions", json={"url": receiver.url, "events": ["score.high", "job.finished"]}, headers=monitor
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    elsewhere = Receiver()
    other = bearer(db, Role.MONITOR, OTHER_COUNTY)
    assert (
        alert_client.post(
            "/v1/subscriptions", json={"url": elsewhere.url, "events": ["score.high"]}, headers=other
        ).status_code
        == 201
    )
    post = http_post()
    dispatch(db, post)  # the first round only sets the cursor: nothing stored before is announced

    rows = _county_rows(batch_profiles, holder, 6)
    answer = alert_client.post("/v1/profiles:score", json={"profiles": rows}, headers=monitor).json()
    high = [item["household_pseudonym"] for item in answer["items"] if item["risk_level"] == "high"]
    assert 0 < len(high) < len(rows)
    assert dispatch(db, post) == len(high)
    alerts = receiver.events("score.high")
    assert [a["household_pseudonym"] for a in alerts] == high
    assert {a["previous_level"] for a in alerts} == {None}
    for headers, body in receiver.received:
        verify(headers, body, secret, created.json()["key_id"])
        cloud = json.loads(body)
        assert headers["content-type"] == "application/cloudevents+json" and cloud["specversion"] == "1.0"
        assert cloud["id"] == headers["x-relapse-delivery"] and cloud["type"] == "cn.relapse.score.high"
        assert cloud["subject"] == cloud["data"]["household_pseudonym"]
    assert elsewhere.received == []

    # Scored again: still high, no crossing, nothing new is sent.
    alert_client.post("/v1/profiles:score", json={"profiles": rows}, headers=monitor)
    assert dispatch(db, post) == 0 and len(receiver.events("score.high")) == len(high)
    elsewhere.server.shutdown()


def test_a_failed_delivery_is_retried_later_under_the_same_id_and_a_finished_job_is_announced(
    alert_client: TestClient, db: Database, receiver: Receiver, county_folder: Path
) -> None:
    monitor = bearer(db, Role.MONITOR)
    alert_client.post("/v1/subscriptions", json={"url": receiver.url, "events": ["job.finished"]}, headers=monitor)
    post = http_post()
    dispatch(db, post)
    with db.session() as session:
        key = create_key(session, role=Role.MONITOR, region_prefix=COUNTY, label="alerts").info
        caller = Caller(key.id, Role.MONITOR, Scope(COUNTY))
        job = create_job(session, caller.scope, caller, source="county", options={"folder": str(county_folder)})
        update_job(session, caller.scope, job.id, status=JobStatus.RUNNING)
        update_job(session, caller.scope, job.id, status=JobStatus.DONE)
    receiver.statuses = [503]
    now = utcnow() + timedelta(seconds=60)  # later than the delivery is queued, however slow the machine
    assert dispatch(db, post, now=now) == 0 and len(receiver.received) == 1  # sent, and the receiver failed
    assert deliver_due(db, post, now=now + timedelta(seconds=RETRY_BASE_S / 2)) == 0  # not due yet: nothing sent
    assert deliver_due(db, post, now=now + timedelta(seconds=RETRY_BASE_S + 1)) == 1
    (first, _), (second, body) = receiver.received
    assert first["x-relapse-delivery"] == second["x-relapse-delivery"]
    cloud = json.loads(body)
    assert cloud["id"] == second["x-relapse-delivery"] and cloud["subject"] == str(job.id)
    assert cloud["data"]["job_id"] == str(job.id) and cloud["data"]["status"] == "done"


def test_subscriptions_are_checked_listed_and_ended(alert_client: TestClient, db: Database, receiver: Receiver) -> None:
    monitor = bearer(db, Role.MONITOR)
    cases = [
        ({"url": "http://example.org/hook", "events": ["score.high"]}, "url"),  # a host the operator did not allow
        ({"url": "ftp://127.0.0.1/x", "events": ["score.high"]}, "url"),
        ({"url": receiver.url, "events": ["score.low"]}, "events"),
        ({"url": receiver.url, "events": ["score.high"], "region": OTHER_COUNTY}, "region"),
    ]
    for body, field in cases:
        refused = alert_client.post("/v1/subscriptions", json=body, headers=monitor)
        assert refused.status_code in (403, 422) and refused.json()["field"] == field, refused.text
    made = alert_client.post("/v1/subscriptions", json={"url": receiver.url, "events": ["score.high"]}, headers=monitor)
    listed = alert_client.get("/v1/subscriptions", headers=monitor).json()["subscriptions"]
    assert [s["id"] for s in listed] == [made.json()["id"]] and "secret" not in listed[0]
    assert (
        alert_client.delete(f"/v1/subscriptions/{made.json()['id']}", headers=bearer(db, Role.MONITOR)).status_code
        == 404
    )
    assert alert_client.delete(f"/v1/subscriptions/{made.json()['id']}", headers=monitor).status_code == 204
    assert alert_client.get("/v1/subscriptions", headers=monitor).json()["subscriptions"] == []


def _crossing_with_a_stay(registered: Registered, holder: ModelHolder, settings_high: float) -> tuple[str, str]:
    """A county household outside monitoring, with no hospital stay in the year before AS_OF, whose document
    scores below high and scores high with one costly stay: its pseudonym and the stay's member."""
    assert holder.current is not None
    profiles = build_profiles(ingest(registered.city, KEY), AS_OF)
    quiet = profiles["region_code"].astype(str).str.startswith(COUNTY) & (
        profiles["monitoring_status"] == "not_monitored"
    )
    quiet &= profiles["max_stay_oop_12m_yuan"].fillna(0) == 0
    probability = holder.current.model.predict_proba(profiles)
    order = [int(i) for i in np.argsort(-probability) if quiet.iloc[i] and probability[i] < settings_high]
    best = (0.0, 0.0, "")
    for i in order[:300]:  # highest first: usually one of the first few crosses
        household = str(profiles["household_id"].iloc[i])
        doc = document(registered, household)
        stay = stay_row(doc, "probe", "2025-06-20")
        with_stay = HouseholdDocument(**{**doc, "events": [*doc["events"], stay]})
        rebuilt = profiles_from_documents([with_stay], pd.Timestamp(AS_OF).date(), KEY)
        after = holder.current.model.predict_proba(rebuilt)[0]
        best = max(best, (after, probability[i], household))
        if after >= settings_high:
            return household, str(stay["member_id"])
    raise AssertionError(f"no county household crosses into high risk with one costly hospital stay: {best}")


def stay_row(doc: dict[str, Any], event_id: str, event_date: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "household_id": doc["household"]["household_id"],
        "member_id": doc["members"][0]["member_id"],
        "event_type": "hospital_stay",
        "event_date": event_date,
        "source_department": "medical_security",
        "total_cost_yuan": 48000.0,
        "oop_cost_yuan": 21000.0,
        "hospital_days": 18,
    }


# The fixture city's model rarely lifts a household past 10 % with one stay; a county may set its own threshold.
EVENT_HIGH = 0.06


@pytest.fixture
def event_client(tmp_path: Path, db: Database, holder: ModelHolder) -> Iterator[TestClient]:
    settings = service_settings(tmp_path, db, alert_hosts=["127.0.0.1"], job_runner=False, high_threshold=EVENT_HIGH)
    with TestClient(create_app(settings, holder=holder, database=db, pseudonym_key=KEY)) as client:
        yield client


def test_a_department_event_that_raises_the_level_and_a_rule_flag_is_alerted_at_a_real_receiver(
    event_client: TestClient, db: Database, holder: ModelHolder, registered: Registered, receiver: Receiver
) -> None:
    alert_client = event_client
    monitor = bearer(db, Role.MONITOR)
    events = ["score.high", "score.level_up", "score.rule_flag"]
    created = alert_client.post("/v1/subscriptions", json={"url": receiver.url, "events": events}, headers=monitor)
    assert created.status_code == 201, created.text
    post = http_post()
    dispatch(db, post)
    household, _ = _crossing_with_a_stay(registered, holder, EVENT_HIGH)
    doc = document(registered, household)
    scored = alert_client.post("/v1/households:score", json={"households": [doc], "as_of": AS_OF}, headers=monitor)
    first = scored.json()["items"][0]
    assert first["risk_level"] != "high"
    assert dispatch(db, post) == 0  # a first score below high: nothing to announce

    pushed = alert_client.post("/v1/events", json={"events": [stay_row(doc, "YB-A1", "2025-06-20")]}, headers=monitor)
    assert pushed.status_code == 201, pushed.text
    score = pushed.json()["events"][0]["score"]
    assert score["risk_level"] == "high"
    raised = sorted(k for k, on in score["rule_flags"]["flags"].items() if on and not first["rule_flags"]["flags"][k])
    assert "rigid_medical_single_stay" in raised

    assert dispatch(db, post) == 3
    (high,) = receiver.events("score.high")
    (up,) = receiver.events("score.level_up")
    (flag,) = receiver.events("score.rule_flag")
    for alert in (high, up, flag):
        assert alert["household_pseudonym"] == household and alert["previous_level"] == first["risk_level"]
        assert alert["probability"] == pytest.approx(score["probability"], abs=1e-12)
    assert flag["new_rule_flags"] == raised
    for headers, body in receiver.received:
        verify(headers, body, created.json()["secret"], created.json()["key_id"])
        assert json.loads(body)["subject"] == household
    # The same event again: a duplicate, no new score, nothing more to announce.
    again = alert_client.post("/v1/events", json={"events": [stay_row(doc, "YB-A1", "2025-06-20")]}, headers=monitor)
    assert again.json()["events"][0]["scoring"] == "unchanged"
    assert dispatch(db, post) == 0 and len(receiver.received) == 3


def _queue_rows(db: Database, subscription_id: int, subjects: list[str]) -> list[int]:
    with db.session() as session:
        rows = [
            Delivery(subscription_id=subscription_id, event="score.high", payload={"n": k}, subject=subject)
            for k, subject in enumerate(subjects)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_one_households_alerts_keep_their_order_and_a_dead_one_is_listed_and_replayed_by_an_admin(
    alert_client: TestClient, db: Database, receiver: Receiver
) -> None:
    monitor, admin = bearer(db, Role.MONITOR), bearer(db, Role.ADMIN)
    created = alert_client.post(
        "/v1/subscriptions", json={"url": receiver.url, "events": ["score.high"]}, headers=monitor
    )
    subscription = created.json()["id"]
    first, second, other = _queue_rows(db, subscription, ["H1", "H1", "H2"])
    post = http_post()
    now = utcnow() + timedelta(seconds=60)

    # H1's first alert fails: its second waits behind it, H2's goes out.
    receiver.statuses = [503]
    assert deliver_due(db, post, now=now, max_attempts=2) == 1
    assert [int(h["x-relapse-delivery"]) for h, _ in receiver.received] == [first, other]
    later = now + timedelta(seconds=RETRY_BASE_S + 1)
    receiver.statuses = [503]
    # The second attempt fails too: H1's first is dead, blocks H1 no longer, and its second goes out.
    assert deliver_due(db, post, now=later, max_attempts=2) == 1
    assert [int(h["x-relapse-delivery"]) for h, _ in receiver.received] == [first, other, first, second]
    dead = alert_client.get(f"/v1/subscriptions/{subscription}/deliveries?state=dead", headers=monitor).json()
    assert [(d["id"], d["state"], d["attempts"], d["last_status"]) for d in dead["deliveries"]] == [
        (first, "dead", 2, 503)
    ]
    assert dead["deliveries"][0]["type"] == "cn.relapse.score.high" and dead["deliveries"][0]["subject"] == "H1"

    refused = alert_client.post(f"/v1/deliveries/{first}:replay", headers=monitor)
    assert refused.status_code == 403
    assert alert_client.post(f"/v1/deliveries/{other}:replay", headers=admin).status_code == 422  # delivered
    elsewhere = alert_client.post(f"/v1/deliveries/{first}:replay", headers=bearer(db, Role.ADMIN, OTHER_COUNTY))
    assert elsewhere.status_code == 404
    replayed = alert_client.post(f"/v1/deliveries/{first}:replay", headers=admin)
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["state"], replayed.json()["attempts"]) == ("pending", 0)
    assert deliver_due(db, post, now=later) == 1
    ids = [json.loads(body)["id"] for _, body in receiver.received]
    assert ids == [str(first), str(other), str(first), str(second), str(first)]  # the same event id throughout
    listed = alert_client.get(f"/v1/subscriptions/{subscription}/deliveries?state=delivered", headers=admin).json()
    assert sorted(d["id"] for d in listed["deliveries"]) == [first, second, other]
    assert (
        alert_client.get(f"/v1/subscriptions/{subscription}/deliveries?state=dead", headers=admin).json()["deliveries"]
        == []
    )


def test_a_dispatcher_killed_after_sending_loses_nothing_and_resends_under_the_same_id(
    alert_client: TestClient, db: Database, receiver: Receiver
) -> None:
    monitor = bearer(db, Role.MONITOR)
    created = alert_client.post(
        "/v1/subscriptions", json={"url": receiver.url, "events": ["score.high"]}, headers=monitor
    )
    queued = _queue_rows(db, created.json()["id"], ["H1", "H2"])
    real = http_post()

    def dies_after_sending(url: str, body: bytes, headers: dict[str, str]) -> int:
        real(url, body, headers)
        raise KeyboardInterrupt  # the process ends after the receiver got the alert, before it is recorded

    with pytest.raises(KeyboardInterrupt):
        deliver_due(db, dies_after_sending)
    assert [int(h["x-relapse-delivery"]) for h, _ in receiver.received] == queued[:1]
    assert deliver_due(db, real) == 2  # the next process sends both; the first again, under its id
    ids = [json.loads(body)["id"] for _, body in receiver.received]
    assert ids == [str(queued[0]), str(queued[0]), str(queued[1])]
    assert deliver_due(db, real) == 0
