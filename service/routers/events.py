"""Department events: push one or a batch for households of your region (service.events); list a household's."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.config import JsonDict
from sqlalchemy.exc import IntegrityError

from features.contract.codes import EVENT_TYPES
from service.deps import CallerDep, DatabaseDep, SettingsDep
from service.errors import NotFoundError
from service.events import WAITING, StoredEvent, household_events, store_events
from service.idempotency import Claim, run_once
from service.keys import Permission
from service.paging import MAX_PAGE, CursorQuery, decode_cursor, page_after
from service.schemas import SCHEMA_MAX_ITEMS, Row
from service.scoring import check_batch
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


class PushedEvent(EventOut):
    status: Literal["stored", "duplicate"]  # duplicate: this event id was stored before with the same content
    # The service keeps no household's source tables: the household is re-scored when its next document, which
    # must carry the event, is scored.
    scoring: Literal["waiting_for_document"] = WAITING


class EventsResponse(BaseModel):
    stored: int
    duplicates: int
    events: list[PushedEvent]  # in the order sent


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


def pushed(results: list[StoredEvent]) -> EventsResponse:
    events = [PushedEvent(**event_out(r.event), status="duplicate" if r.duplicate else "stored") for r in results]
    duplicates = sum(r.duplicate for r in results)
    return EventsResponse(stored=len(results) - duplicates, duplicates=duplicates, events=events)


@router.post("/events", response_model=EventsResponse, status_code=201)
async def push_events(
    body: EventsRequest, caller: CallerDep, database: DatabaseDep, settings: SettingsDep, request: Request
) -> Response:
    """Push department events (the contract's events rows) for households scored in your region: every row is
    checked as the batch validator checks it and all violations are listed (422, nothing stored); an event id
    stored before with the same content is a duplicate, with other content a violation. Each stored event waits
    for its household's next document to take part in a score."""
    caller.require(Permission.EVENTS)
    check_batch(len(body.events), settings, "events")

    def store(claim: Claim | None) -> Response:
        for attempt in (1, 2):
            try:
                with database.session() as session:
                    results = store_events(session, caller.scope, body.events, key_id=caller.key_id)
                    response = Response(
                        _PUSHED.dump_json(pushed(results)), status_code=201, media_type="application/json"
                    )
                    if claim is not None:
                        claim.record(session, response)
                    return response
            except IntegrityError:
                if attempt == 2:
                    raise
                # Another request stored one of these event ids at the same moment: the next look finds it.
        raise AssertionError("unreachable")

    async def produce(claim: Claim | None) -> Response:
        return await run_in_threadpool(store, claim)

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
