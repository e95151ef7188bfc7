"""Pushed department events, stored and re-scored together: the requests waiting in a worker's queue share one
transaction for their events, one rebuild of their households and one scoring pass (`service._coalescing`).

A push is one `POST /v1/events` request whose rows the contract's validator has passed (`service.events.plain_rows`).
Each push is stored in a savepoint of the batch's transaction, so that one push's violation (an unknown household,
an event id reused with other content) fails that push alone, as if it had come alone; pushes are stored in
arrival order, so an event id sent by two pushes of one batch is the later one's duplicate. Every household of
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

import pandas as pd
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import Database
from service.events import StoredEvent, store_events
from service.household_sources import Key, Rebuilt, append_events, rebuild
from service.keys import Caller
from service.model_holder import ServingModel
from service.problems import ModelUnavailableError
from service.references import ReferenceHolder
from service.schemas import ScoreItem
from service.scoring import ScoreContext, ScoreRequest, score_requests
from service.settings import ServiceSettings


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
    outcomes: list[Pushed | Exception] = []
    kept: list[set[Key]] = []
    try:
        with pushes[0].database.session() as session:
            for push in pushes:
                stored = _store(session, push)
                outcomes.append(stored[0] if isinstance(stored, tuple) else stored)
                kept.append(stored[1] if isinstance(stored, tuple) else set())
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
    for k, (push, households_of) in enumerate(zip(pushes, kept, strict=True)):
        if not households_of or push.serving is None:
            continue
        context = ScoreContext(push.caller, push.serving, push.database, push.settings, push.request_id)
        for group in _groups_of(groups, households_of):
            requests.append(ScoreRequest(context, group, explain=True, context_version=version))
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


def _store(session: Session, push: EventPush) -> tuple[Pushed, set[Key]] | Exception:
    """The push's events stored in a savepoint of the batch's transaction, and the households whose kept rows they
    joined; or the push's error, with nothing of it stored."""
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                results = store_events(session, push.caller.scope, push.rows, key_id=push.caller.key_id)
                fresh = [r.event for r in results if not r.duplicate]
                households = append_events(session, [e.row for e in fresh], [e.region_code for e in fresh])
                if households and push.serving is None:
                    # Nothing is stored rather than an event its household's score never saw.
                    raise ModelUnavailableError(push.unavailable)
                return Pushed(results), households
        except IntegrityError as error:
            # Another worker stored one of these event ids at the same moment: the next look finds it.
            if attempt == 2:
                return error
        except Exception as error:
            return error
    raise AssertionError("unreachable")


def _groups_of(groups: Sequence[Rebuilt], households: set[Key]) -> list[pd.DataFrame]:
    """The push's households' profiles, one frame per as-of date."""
    out = []
    for group in groups:
        keys = zip(group.profiles["household_id"].astype(str), group.profiles["region_code"].astype(str), strict=True)
        mine = [i for i, key in enumerate(keys) if key in households]
        if mine:
            out.append(group.profiles.iloc[mine])
    return out
