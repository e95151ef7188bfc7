"""Department events: push one or a batch for households of your region (service.events); list a household's."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.config import JsonDict

from features.contract.codes import EVENT_TYPES
from service._coalescing import Coalescer
from service.deps import CallerDep, DatabaseDep, HolderDep, ReferencesDep, RequestIdDep, SettingsDep
from service.errors import NotFoundError
from service.event_pushes import EventPush, Pushed, store_and_rescore
from service.events import RESCORED, UNCHANGED, WAITING, StoredEvent, household_events, plain_rows
from service.household_sources import Key
from service.idempotency import Claim, run_once
from service.keys import Permission
from service.paging import MAX_PAGE, CursorQuery, decode_cursor, page_after
from service.schemas import SCHEMA_MAX_ITEMS, Row, ScoreItem
from service.scoring import SYNTHETIC_NOTICE, check_batch
from service.tables import HouseholdEvent
from service.visits import household_region

router = APIRouter(prefix="/v1", tags=["events"])

EXAMPLE: Final[JsonDict] = {
    "events": [
        {
            "event_id": "YB-2025-000123",
            "household_id": "H000000212",
            "member_id": "M0000000567",
            "event_type": "hospital_stay",
            "event_date": "2025-06-20",
            "source_department": "medical_security",
            "total_cost_yuan": 48000.0,
            "oop_cost_yuan": 21000.0,
            "hospital_days": 18,
        }
    ]
}


class EventsRequest(BaseModel):
    """1..N rows of the contract's events table (docs/data-contract.md), each naming its household."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    events: list[Row] = Field(min_length=1, max_length=SCHEMA_MAX_ITEMS)


class EventOut(BaseModel):
    event_id: str
    household_pseudonym: str
    region_code: str
    event_type: str
    event_type_zh: str
    event_type_en: str
    event_date: date
    received_at: datetime
    row: dict[str, Any]  # the contract row as stored (typed; empty cells left out)


Scoring = Literal["rescored", "waiting_for_document", "unchanged"]


class PushedEvent(EventOut):
    status: Literal["stored", "duplicate"]  # duplicate: this event id was stored before with the same content
    # rescored: the household's kept source rows took the event and `score` is its new stored score;
    # waiting_for_document: the service holds no source rows of the household (scored from profiles or by a
    # job), so its next document must carry the event; unchanged: a duplicate, nothing new was scored.
    scoring: Scoring
    score: ScoreItem | None = None  # the same score for every event of one household in a batch


class EventsResponse(BaseModel):
    stored: int
    duplicates: int
    rescored: int  # households re-scored
    events: list[PushedEvent]  # in the order sent
    notice: str | None = None  # said whenever a new score comes from a model trained on synthetic data


class HouseholdEventsResponse(BaseModel):
    household_pseudonym: str
    events: list[EventOut]  # newest event date first
    cursor: str | None  # ask again with ?cursor=<this> for the next page
    more: bool  # more events follow this page


_PUSHED: Final = TypeAdapter(EventsResponse)


def event_out(event: HouseholdEvent) -> dict[str, Any]:
    zh, en = EVENT_TYPES.get(event.event_type, (event.event_type, event.event_type))
    return {
        "event_id": event.event_id,
        "household_pseudonym": event.household_pseudonym,
        "region_code": event.region_code,
        "event_type": event.event_type,
        "event_type_zh": zh,
        "event_type_en": en,
        "event_date": event.event_date,
        "received_at": event.received_at,
        "row": event.row,
    }


def pushed(results: list[StoredEvent], scores: dict[Key, ScoreItem]) -> EventsResponse:
    events = []
    for result in results:
        score = None if result.duplicate else scores.get((result.event.household_pseudonym, result.event.region_code))
        scoring: Scoring = UNCHANGED if result.duplicate else RESCORED if score is not None else WAITING
        status: Literal["stored", "duplicate"] = "duplicate" if result.duplicate else "stored"
        events.append(PushedEvent(**event_out(result.event), status=status, scoring=scoring, score=score))
    duplicates = sum(r.duplicate for r in results)
    synthetic = any(score.synthetic for score in scores.values())
    return EventsResponse(
        stored=len(results) - duplicates,
        duplicates=duplicates,
        rescored=len(scores),
        events=events,
        notice=SYNTHETIC_NOTICE if synthetic else None,
    )


@router.post("/events", response_model=EventsResponse, status_code=201)
async def push_events(
    body: EventsRequest,
    caller: CallerDep,
    database: DatabaseDep,
    settings: SettingsDep,
    holder: HolderDep,
    references: ReferencesDep,
    request_id: RequestIdDep,
    request: Request,
) -> Response:
    """Push department events (the contract's events rows) for households scored in your region: every row is
    checked as the batch validator checks it and all violations are listed (422, nothing stored); an event id
    stored before with the same content is a duplicate, with other content a violation. Each stored event joins
    its household's kept source rows and the household is re-scored at once (`score`); a household whose rows the
    service does not hold waits for its next document."""
    caller.require(Permission.EVENTS)
    check_batch(len(body.events), settings, "events")
    holder_now = holder.current
    unavailable = holder.degraded or "no model is loaded"

    def answer(outcome: Pushed | Exception) -> Response:
        if isinstance(outcome, Exception):
            raise outcome
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            for item in outcome.scores.values():
                metrics.scores.labels(item.risk_level).inc()
        runner = getattr(request.app.state, "job_runner", None)
        if outcome.scores and runner is not None:
            runner.wake()  # new scores: the alert dispatcher looks now rather than at its next poll
        body = _PUSHED.dump_json(pushed(outcome.results, outcome.scores))
        return Response(body, status_code=201, media_type="application/json", headers={"X-Request-ID": request_id})

    async def produce(_: Claim | None) -> Response:
        # Every violation of the rows is a 422 before anything waits; the answer names the new scores, so it is
        # recorded for the Idempotency-Key once they are stored.
        rows = await run_in_threadpool(plain_rows, body.events)
        push = EventPush(caller, rows, database, settings, holder_now, request_id, unavailable)
        queue: Coalescer[EventPush, Pushed] | None = getattr(request.app.state, "event_pushes", None)
        if queue is not None:
            return answer(await queue.score(push))
        return answer((await run_in_threadpool(store_and_rescore, [push], references))[0])

    return await run_once(request, caller, database, settings, await request.body(), produce)


@router.get("/households/{pseudonym}/events", response_model=HouseholdEventsResponse)
def read_events(
    pseudonym: str,
    caller: CallerDep,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: CursorQuery = None,
) -> HouseholdEventsResponse:
    """The household's pushed events, newest event date first, a page at a time (`cursor` of the previous
    page); 404 alike for unknown households and other regions'."""
    caller.require(Permission.READ)
    after = decode_cursor(cursor, (date, int))
    with database.read_session() as session:
        if household_region(session, caller.scope, pseudonym) is None:
            raise NotFoundError("no household with this id in your region")
        events = household_events(session, caller.scope, pseudonym)
    page = page_after(events, lambda e: (e.event_date, e.id), after, limit, cursor)
    return HouseholdEventsResponse(
        household_pseudonym=pseudonym,
        events=[EventOut(**event_out(event)) for event in page.items],
        cursor=page.cursor,
        more=page.more,
    )
