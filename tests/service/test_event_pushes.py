"""Pushed events stored and re-scored together answer, store and audit what each push would alone; a push's error
stays with it (`service.event_pushes`). The batch function is called directly with a fixed batch, so which pushes
share a batch is certain; the independent expectation is each household's document with its events in it, scored
through `households:score`."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.db import Database
from service.event_pushes import EventPush, Pushed, store_and_rescore
from service.events import plain_rows
from service.keys import Caller
from service.model_holder import ModelHolder
from service.problems import ModelUnavailableError
from service.scope import Scope
from service.tables import AuditEntry, HouseholdEvent, Role
from tests.service.api_support import AS_OF, COUNTY, Registered, bearer, document, profile_row
from tests.service.test_api_event_rescoring import STAY_RULE, _score, _stay


def _quiet_households(batch_profiles: pd.DataFrame, count: int) -> list[str]:
    frame = batch_profiles
    eligible = frame["region_code"].astype(str).str.startswith(COUNTY)
    eligible &= frame["monitoring_status"] == "not_monitored"
    eligible &= frame["max_stay_oop_12m_yuan"].fillna(0) == 0
    return [str(h) for h in frame.loc[eligible, "household_id"].iloc[:count]]


def _push(client: TestClient, events: list[dict[str, Any]], request_id: str, holder: ModelHolder | None) -> EventPush:
    caller = Caller(None, Role.MONITOR, Scope(COUNTY))
    state = client.app.state  # type: ignore[attr-defined]
    serving = holder.current if holder is not None else None
    return EventPush(caller, plain_rows(events), state.database, state.settings, serving, request_id)


def _audited(db: Database, request_id: str) -> list[str]:
    with db.read_session() as session:
        query = select(AuditEntry.household_pseudonym).where(AuditEntry.request_id == request_id)
        return sorted(session.scalars(query))


def test_pushes_of_one_batch_answer_as_alone_and_errors_stay_with_their_push(
    client: TestClient, db: Database, registered: Registered, batch_profiles: pd.DataFrame, holder: ModelHolder
) -> None:
    first, second = _quiet_households(batch_profiles, 2)
    monitor = bearer(db, Role.MONITOR)
    docs = {h: document(registered, h) for h in (first, second)}
    for doc in docs.values():
        _score(client, monitor, doc, AS_OF)
    a = _stay(docs[first], "YB-B1", "2025-06-20")
    c = _stay(docs[second], "YB-B2", "2025-06-10")
    unknown = {**_stay(docs[first], "YB-B3", "2025-06-20"), "household_id": "H-NOT-SCORED"}
    unknown.pop("member_id")
    reused = {**a, "oop_cost_yuan": 1.0}  # A's event id with other content
    pushes = [
        _push(client, [a], "push-a", holder),
        _push(client, [unknown], "push-b", holder),
        _push(client, [c], "push-c", holder),
        _push(client, [a], "push-d", holder),  # the same event again: a duplicate
        _push(client, [reused], "push-e", holder),
    ]
    outcomes = store_and_rescore(pushes, client.app.state.references)  # type: ignore[attr-defined]

    pa, pb, pc, pd_, pe = outcomes
    assert isinstance(pa, Pushed) and isinstance(pc, Pushed) and isinstance(pd_, Pushed)
    assert isinstance(pb, Exception) and "household_id" in str(pb.violations[0].column)  # type: ignore[attr-defined]
    assert isinstance(pe, Exception) and pe.violations[0].reason == "event_id_reused"  # type: ignore[attr-defined]
    assert [r.duplicate for r in pa.results] == [False] and [r.duplicate for r in pd_.results] == [True]
    assert pd_.scores == {}
    # Each push's households scored under its own request id; the failed pushes stored and audited nothing.
    assert _audited(db, "push-a") == [first] and _audited(db, "push-c") == [second]
    assert _audited(db, "push-b") == [] and _audited(db, "push-d") == [] and _audited(db, "push-e") == []
    with db.read_session() as session:
        stored = sorted(session.scalars(select(HouseholdEvent.event_id)))
    assert stored == ["YB-B1", "YB-B2"]

    # Each score equals the household's document with its event, scored as a document.
    for household, event, outcome in ((first, a, pa), (second, c, pc)):
        (score,) = outcome.scores.values()
        assert score.household_pseudonym == household and score.rule_flags.flags[STAY_RULE] is True
        expected = _score(client, monitor, {**docs[household], "events": [*docs[household]["events"], event]}, AS_OF)
        assert score.probability == pytest.approx(expected["probability"], abs=1e-12)
        assert [r.key for r in score.reasons] == [r["key"] for r in expected["reasons"]]
        assert [m.measure for m in score.measures] == [m["measure"] for m in expected["measures"]]


def test_without_a_model_a_push_that_would_rescore_stores_nothing_and_the_others_store(
    client: TestClient, db: Database, registered: Registered, batch_profiles: pd.DataFrame, holder: ModelHolder
) -> None:
    (household,) = _quiet_households(batch_profiles, 1)
    doc = document(registered, household)
    _score(client, bearer(db, Role.MONITOR), doc, AS_OF)
    county = batch_profiles["region_code"].astype(str).str.startswith(COUNTY)
    others = batch_profiles.loc[county & (batch_profiles["household_id"] != household), "household_id"]
    profiled = str(others.iloc[0])
    scored = client.post(
        "/v1/profiles:score",
        json={"profiles": [_profile(batch_profiles, profiled)]},
        headers=bearer(db, Role.MONITOR),
    )
    assert scored.status_code == 200, scored.text
    waiting = {**_stay(doc, "YB-N2", "2025-06-20"), "household_id": profiled}
    waiting.pop("member_id")
    pushes = [
        _push(client, [_stay(doc, "YB-N1", "2025-06-20")], "no-model-1", None),
        _push(client, [waiting], "no-model-2", None),
    ]
    kept, stored = store_and_rescore(pushes, client.app.state.references)  # type: ignore[attr-defined]
    assert isinstance(kept, ModelUnavailableError)
    assert isinstance(stored, Pushed) and stored.scores == {} and not stored.results[0].duplicate
    with db.read_session() as session:
        assert sorted(session.scalars(select(HouseholdEvent.event_id))) == ["YB-N2"]
        assert session.scalar(select(func.count()).where(AuditEntry.request_id.like("no-model-%"))) == 0


def _profile(batch_profiles: pd.DataFrame, household: str) -> dict[str, Any]:
    i = int((batch_profiles["household_id"].astype(str) == household).to_numpy().nonzero()[0][0])
    return profile_row(batch_profiles, i)
