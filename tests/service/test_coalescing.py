"""Requests scored together answer, store and audit exactly what each would alone; errors stay with their request.

The scorer is the real one (`score_requests`: the model, SHAP, the database); the tests only hold the first batch
back until the next requests have queued, so that which requests share a batch is certain.
"""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service._coalescing import Coalescer
from service.app import create_app
from service.db import Database, open_database
from service.errors import DatabaseUnavailableError, InvalidFieldError, OutOfScopeError
from service.keys import Caller
from service.model_holder import ModelHolder, ServingModel
from service.profile_rows import profile_values
from service.schemas import ScoreResponse
from service.scope import Scope
from service.scoring import ScoreContext, ScoreRequest, score_profiles, score_requests
from service.settings import ServiceSettings
from service.tables import AuditEntry, Role, ScoreRecord
from tests.service.api_support import KEY, Registered, bearer, service_settings
from tests.service.test_api_scores import _household_in, document, profile_row

AS_OF = pd.Timestamp("2025-07-01").date()
SETTINGS = ServiceSettings(database_url="sqlite://")


@pytest.fixture
def serving(holder: ModelHolder) -> ServingModel:
    assert holder.current is not None
    return holder.current


def _rows(batch_profiles: pd.DataFrame, count: int, skip: int = 0) -> list[dict[str, Any]]:
    return [profile_row(batch_profiles, _household_in(batch_profiles, "990101", skip + k)) for k in range(count)]


def _request(
    serving: ServingModel,
    database: Database,
    rows: list[dict[str, Any]],
    request_id: str,
    *,
    explain: bool = True,
    scope: str = "99",
) -> ScoreRequest:
    context = ScoreContext(Caller(None, Role.MONITOR, Scope(scope)), serving, database, SETTINGS, request_id)
    return ScoreRequest(context, profile_values(rows, AS_OF), explain)


class HeldScorer:
    """`score_requests`, recording each batch's request ids; the first batch waits until `release()`."""

    def __init__(self) -> None:
        self.batches: list[list[str | None]] = []
        self._released = threading.Event()

    def __call__(self, requests: Sequence[ScoreRequest]) -> list[ScoreResponse | Exception]:
        self.batches.append([request.context.request_id for request in requests])
        self._released.wait(30)
        return score_requests(requests)

    def release(self) -> None:
        self._released.set()


async def _score_with_first_held(coalescer: Coalescer, scorer: HeldScorer, requests: list[ScoreRequest]) -> list[Any]:
    """Score `requests[0]` alone, and the rest while it is being scored (they queue for the next batch)."""
    first = asyncio.create_task(coalescer.score(requests[0]))
    while not scorer.batches:
        await asyncio.sleep(0.005)
    rest = [asyncio.create_task(coalescer.score(request)) for request in requests[1:]]
    await asyncio.sleep(0.05)  # every later request is waiting now
    scorer.release()
    return list(await asyncio.gather(first, *rest, return_exceptions=True))


def _audited(database: Database, request_id: str) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).where(AuditEntry.request_id == request_id)) or 0)


def _scores(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(ScoreRecord)) or 0)


def test_requests_scored_together_answer_and_audit_what_each_does_alone(
    serving: ServingModel, db: Database, batch_profiles: pd.DataFrame
) -> None:
    sizes, explain = [1, 2, 1, 3, 1], [True, True, False, True, True]
    requests, start = [], 0
    for k, (size, flag) in enumerate(zip(sizes, explain, strict=True)):
        requests.append(_request(serving, db, _rows(batch_profiles, size, start), f"req-{k}", explain=flag))
        start += size
    alone = [score_profiles(r.context, r.profiles, explain=r.explain).model_dump_json() for r in requests]
    assert _scores(db) == sum(sizes)

    scorer = HeldScorer()
    answers = asyncio.run(_score_with_first_held(Coalescer(64, scorer), scorer, requests))

    assert scorer.batches == [["req-0"], ["req-1", "req-2", "req-3", "req-4"]]
    assert [answer.model_dump_json() for answer in answers] == alone
    assert _scores(db) == 2 * sum(sizes)
    for k, size in enumerate(sizes):
        assert _audited(db, f"req-{k}") == 2 * size  # once alone, once in the batch: each under its own request


def test_a_bad_request_fails_alone_and_the_others_of_its_batch_are_stored(
    serving: ServingModel, db: Database, batch_profiles: pd.DataFrame
) -> None:
    rows = _rows(batch_profiles, 4)
    bad_pseudonym = [{**rows[2], "household_id": "not a pseudonym!"}]
    requests = [
        _request(serving, db, rows[:1], "first"),
        _request(serving, db, rows[1:2], "outside", scope="990102"),  # the household lies in 990101
        _request(serving, db, bad_pseudonym, "bad"),
        _request(serving, db, rows[3:4], "good"),
    ]
    scorer = HeldScorer()
    answers = asyncio.run(_score_with_first_held(Coalescer(64, scorer), scorer, requests))

    assert scorer.batches == [["first"], ["outside", "bad", "good"]]
    assert isinstance(answers[1], OutOfScopeError)
    assert isinstance(answers[2], InvalidFieldError) and answers[2].field == "household_pseudonym"
    for k in (0, 3):
        assert isinstance(answers[k], ScoreResponse)
        assert (
            answers[k].model_dump_json()
            == score_profiles(requests[k].context, requests[k].profiles, explain=True).model_dump_json()
        )
    assert [_audited(db, name) for name in ("first", "outside", "bad", "good")] == [2, 0, 0, 2]


def test_each_request_of_a_batch_is_answered_by_the_model_version_it_was_given(
    serving: ServingModel, db: Database, batch_profiles: pd.DataFrame
) -> None:
    old = serving
    new = dataclasses.replace(old, version=f"{old.version}-next")
    rows = _rows(batch_profiles, 4)
    requests = [_request([old, new][k % 2], db, rows[k : k + 1], f"v{k}") for k in range(4)]
    scorer = HeldScorer()
    answers = asyncio.run(_score_with_first_held(Coalescer(64, scorer), scorer, requests))

    assert scorer.batches == [["v0"], ["v1", "v2", "v3"]]
    for k, answer in enumerate(answers):
        version = [old, new][k % 2].version
        assert answer.model_version == version and {item.model_version for item in answer.items} == {version}


def test_batches_hold_at_most_max_rows_and_skip_requests_whose_callers_left(
    serving: ServingModel, db: Database, batch_profiles: pd.DataFrame
) -> None:
    rows = _rows(batch_profiles, 8)
    sizes = {"a": 1, "b": 2, "gone": 1, "c": 2, "d": 1, "e": 1}
    requests, start = {}, 0
    for name, size in sizes.items():
        requests[name] = _request(serving, db, rows[start : start + size], name)
        start += size
    scorer = HeldScorer()
    coalescer = Coalescer(3, scorer)

    async def run() -> dict[str, Any]:
        tasks = {"a": asyncio.create_task(coalescer.score(requests["a"]))}
        while not scorer.batches:
            await asyncio.sleep(0.005)
        for name in ("b", "gone", "c", "d", "e"):
            tasks[name] = asyncio.create_task(coalescer.score(requests[name]))
        await asyncio.sleep(0.05)
        tasks["gone"].cancel()  # its client went away before its batch began
        scorer.release()
        return dict(zip(tasks, await asyncio.gather(*tasks.values(), return_exceptions=True), strict=True))

    answers = asyncio.run(run())
    assert scorer.batches == [["a"], ["b"], ["c", "d"], ["e"]]  # 2 + 2 > 3 rows; "gone" dropped before its turn
    assert isinstance(answers["gone"], asyncio.CancelledError)
    assert _audited(db, "gone") == 0
    assert all(isinstance(answers[name], ScoreResponse) for name in ("a", "b", "c", "d", "e"))
    assert _scores(db) == sum(sizes.values()) - sizes["gone"]


def test_when_the_database_is_down_every_request_of_the_batch_gets_the_error_and_no_score(
    serving: ServingModel, batch_profiles: pd.DataFrame, tmp_path: Path
) -> None:
    url = "postgresql+psycopg://relapse:wrong@127.0.0.1:1/nothing?connect_timeout=2"
    down = open_database(url, ServiceSettings(data_dir=tmp_path, database_url=url))
    rows = _rows(batch_profiles, 3)
    requests = [_request(serving, down, rows[k : k + 1], f"r{k}") for k in range(3)]
    scorer = HeldScorer()
    answers = asyncio.run(_score_with_first_held(Coalescer(64, scorer), scorer, requests))
    assert scorer.batches == [["r0"], ["r1", "r2"]]
    assert all(isinstance(answer, DatabaseUnavailableError) for answer in answers)
    down.dispose()


def test_max_rows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_rows"):
        Coalescer(0, score_requests)


def test_small_household_requests_wait_for_the_scoring_lane_and_large_ones_do_not(
    holder: ModelHolder, db: Database, registered: Registered, batch_profiles: pd.DataFrame, tmp_path: Path
) -> None:
    """While something holds the worker's scoring lane, a request of up to RELAPSE_COALESCE_ROWS documents waits
    for it (and is answered once it is free); a larger request is scored on the thread pool meanwhile."""
    settings = service_settings(tmp_path, db, coalesce_rows=1)
    ids = [str(batch_profiles["household_id"].iloc[_household_in(batch_profiles, "990101", k)]) for k in (0, 1)]
    docs = [document(registered, household_id) for household_id in ids]
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app) as client:
        headers = bearer(db, Role.MONITOR)
        lane = app.state.scoring_lane
        assert client.portal is not None
        client.portal.call(lane.acquire_on_behalf_of, "test")
        answers: dict[str, int] = {}

        def post(name: str, households: list[dict[str, Any]]) -> None:
            body = {"households": households, "as_of": "2025-07-01"}
            answers[name] = client.post("/v1/households:score", json=body, headers=headers).status_code

        small = threading.Thread(target=post, args=("small", docs[:1]))
        small.start()
        post("large", docs)  # two documents: more than the lane takes, so not held up
        small.join(1.0)
        assert answers == {"large": 200} and small.is_alive()  # still waiting for the lane
        client.portal.call(lane.release_on_behalf_of, "test")
        small.join(60)
        assert answers == {"large": 200, "small": 200}
