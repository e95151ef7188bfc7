"""Pushed department events, stored and re-scored together: the requests waiting in a worker's queue share one
transaction for their events, one rebuild of their households and one scoring pass (`service._coalescing`).

A push is one `POST /v1/events` request whose rows the contract's validator has passed (`service.events.plain_rows`).
The batch's households and event ids are looked up once; each push is then judged in arrival order against what
is stored and what the pushes before it stored, so that one push's violation (an unknown household, an event id
reused with other content) fails that push alone, as if it had come alone, and an event id sent by two pushes of
one batch is the later one's duplicate. The accepted events are written together. Every household of
the batch whose rows the service keeps is rebuilt once from its rows (`service.household_sources.rebuild`); each
push then scores its own households with its own caller, request id and audit entries (`service.scoring`). A
household pushed twice in one batch is scored once for each push, from the same rows.

When the events' transaction fails, no push of the batch stores anything; when scoring fails, the events stay
stored (their households are re-scored by the next event or document) and the push gets the error, as a request
alone did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import Database
from service.events import StoredEvent, judge, known_for
from service.household_sources import Key, Rebuilt, append_events, held, rebuild
from service.keys import Caller
from service.model_holder import ServingModel
from service.problems import ModelUnavailableError
from service.references import ReferenceHolder
from service.schemas import ScoreItem
from service.scoring import ScoreContext, ScoreRequest, row_values, score_requests
from service.settings import ServiceSettings
from service.tables import HouseholdEvent


@dataclass(frozen=True)
class EventPush:
    """One request's checked event rows, with who sent them and the model that re-scores their households (None
    when no model is loaded: a push that would re-score a household is then refused, and nothing of it stored)."""

    caller: Caller
    rows: list[dict[str, Any]]
    database: Database
    settings: ServiceSettings
    serving: ServingModel | None
    request_id: str | None = None
    unavailable: str = "no model is loaded"  # the 503's detail when `serving` is None

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Pushed:
    """One push's answer: each of its events as stored (or found stored before), and its households' new scores."""

    results: list[StoredEvent]
    scores: dict[Key, ScoreItem] = field(default_factory=dict)


def store_and_rescore(pushes: Sequence[EventPush], references: ReferenceHolder) -> list[Pushed | Exception]:
    """Each push's answer, or the error it gets, in order; all pushes of one batch share one database."""
    if not pushes:
        return []
    try:
        outcomes, kept = _store(pushes)
    except Exception as error:  # the transaction failed: nothing of the batch is stored
        return [error] * len(pushes)
    households = set().union(*kept)
    if not households:
        return outcomes
    reference = references.current
    try:
        with pushes[0].database.read_session() as session:
            groups = rebuild(session, households, reference)
    except Exception as error:
        return [error if households_of else outcome for outcome, households_of in zip(outcomes, kept, strict=True)]
    version = reference.label if reference is not None else None
    requests: list[ScoreRequest] = []
    owners: list[int] = []
    # Each profile row's values, read once: a push scores the values of its own households, and pushes of one
    # pass share one model pass (`score_requests` combines row values).
    rows = [row for group in groups for row in _row_values(group)]
    for k, (push, households_of) in enumerate(zip(pushes, kept, strict=True)):
        if not households_of or push.serving is None:
            continue
        context = ScoreContext(push.caller, push.serving, push.database, push.settings, push.request_id)
        mine = [row for row in rows if (row["household_id"], row["region_code"]) in households_of]
        requests.append(ScoreRequest(context, mine, explain=True, context_version=version))
        owners.append(k)
    for k, answer in zip(owners, score_requests(requests), strict=True):
        outcome = outcomes[k]
        if isinstance(outcome, Exception):
            continue
        if isinstance(answer, Exception):
            outcomes[k] = answer
            continue
        outcome.scores.update({(item.household_pseudonym, item.region_code): item for item in answer.items})
    return outcomes


def _store(pushes: Sequence[EventPush]) -> tuple[list[Pushed | Exception], list[set[Key]]]:
    """Each push's answer so far (or its error) and the households whose kept rows its events joined, all stored
    in one transaction. Another worker storing one of the event ids at the same moment makes the transaction fail
    on the unique id: it is tried again once, and the next look finds that event."""
    for attempt in (1, 2):
        try:
            with pushes[0].database.session() as session:
                return _judge_and_store(session, pushes)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _judge_and_store(session: Session, pushes: Sequence[EventPush]) -> tuple[list[Pushed | Exception], list[set[Key]]]:
    rows = [row for push in pushes for row in push.rows]
    known = known_for(session, {row["household_id"] for row in rows}, {row["event_id"] for row in rows})
    outcomes: list[Pushed | Exception] = []
    fresh: list[list[HouseholdEvent]] = []
    for push in pushes:
        try:
            results = judge(known, push.caller.scope, push.rows, key_id=push.caller.key_id)
            new = [r.event for r in results if not r.duplicate]
            if push.serving is None and held(session, _keys_of(new)):
                # Nothing is stored rather than an event its household's score never saw.
                raise ModelUnavailableError(push.unavailable)
        except Exception as error:  # the push's own: its events are not stored, the others' are
            outcomes.append(error)
            fresh.append([])
            continue
        known.accept(new)
        outcomes.append(Pushed(results))
        fresh.append(new)
    stored = [event for events in fresh for event in events]
    session.add_all(stored)
    session.flush()
    kept = append_events(session, [e.row for e in stored], [e.region_code for e in stored])
    return outcomes, [_keys_of(events) & kept for events in fresh]


def _keys_of(events: Sequence[HouseholdEvent]) -> set[Key]:
    return {(event.household_pseudonym, event.region_code) for event in events}


def _row_values(group: Rebuilt) -> list[dict[str, Any]]:
    frame = group.profiles
    return [row_values(frame.iloc[i]) for i in range(len(frame))]
