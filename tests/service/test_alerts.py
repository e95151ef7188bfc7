"""Alerts: a subscriber on an allowed host hears once, signed, when a household of its region crosses into high
risk or a job ends; failed deliveries are retried under the same id; nothing reaches another region's subscriber."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from service.alerts import RETRY_BASE_S, deliver_due, dispatch, http_post
from service.app import create_app
from service.db import Database
from service.keys import Caller, create_key
from service.model_holder import ModelHolder
from service.scope import Scope
from service.store import create_job, update_job
from service.tables import JobStatus, Role, utcnow
from tests.service.api_support import COUNTY, KEY, bearer, profile_row, service_settings
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

    def events(self, event: str) -> list[dict[str, Any]]:
        return [json.loads(body) for headers, body in self.received if headers["x-relapse-event"] == event]


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
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-relapse-signature"], expected)
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
    assert json.loads(body)["job_id"] == str(job.id) and json.loads(body)["status"] == "done"


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
