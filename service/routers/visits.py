"""Home visits of one household: record what a visit found (monitors and officials), list them (readers)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, TypeAdapter

from service.deps import CallerDep, DatabaseDep, SettingsDep
from service.errors import NotFoundError
from service.idempotency import Claim, run_once
from service.keys import Permission
from service.paging import MAX_PAGE, CursorQuery, decode_cursor, page_after
from service.tables import Visit
from service.visits import OUTCOMES, VisitIn, household_region, household_visits, record_visit, standing

router = APIRouter(prefix="/v1/households", tags=["visits"])


class VisitOut(BaseModel):
    id: int
    household_pseudonym: str
    region_code: str
    visited_on: date
    visitor_role: str
    visitor_grid: str | None
    list_version: str | None
    list_rank: int | None
    outcome: str
    outcome_zh: str
    outcome_en: str
    monitoring_type: str | None
    risk_types: list[str]
    measures_started: list[str]
    next_review_on: date | None
    note: str | None
    corrects: int | None
    corrected: bool  # a later visit corrects this one
    source: str  # "api" or "import"
    recorded_at: datetime


class VisitsResponse(BaseModel):
    household_pseudonym: str
    visits: list[VisitOut]  # newest first
    cursor: str | None  # ask again with ?cursor=<this> for the next page
    more: bool  # more visits follow this page


_VISIT: Final = TypeAdapter(VisitOut)


def visit_out(visit: Visit, corrected: bool = False) -> VisitOut:
    zh, en = OUTCOMES[visit.outcome]
    return VisitOut(
        id=visit.id,
        household_pseudonym=visit.household_pseudonym,
        region_code=visit.region_code,
        visited_on=visit.visited_on,
        visitor_role=visit.visitor_role,
        visitor_grid=visit.visitor_grid,
        list_version=visit.list_version,
        list_rank=visit.list_rank,
        outcome=visit.outcome,
        outcome_zh=zh,
        outcome_en=en,
        monitoring_type=visit.monitoring_type,
        risk_types=list(visit.risk_types or []),
        measures_started=list(visit.measures_started or []),
        next_review_on=visit.next_review_on,
        note=visit.note,
        corrects=visit.corrects_id,
        corrected=corrected,
        source=visit.source,
        recorded_at=visit.recorded_at,
    )


@router.post("/{pseudonym}/visits", response_model=VisitOut, status_code=201)
async def add_visit(
    pseudonym: str, body: VisitIn, caller: CallerDep, database: DatabaseDep, settings: SettingsDep, request: Request
) -> Response:
    """Record a home visit of a household scored in your region (append-only; a correction names the visit it
    corrects). 404 alike for unknown households and other regions'. With an `Idempotency-Key`, a repeat of the
    same request answers the first visit instead of storing another."""
    caller.require(Permission.VISITS)

    def store(claim: Claim | None) -> Response:
        with database.session() as session:
            visit = record_visit(session, caller.scope, pseudonym, body, key_id=caller.key_id, source="api")
            response = Response(_VISIT.dump_json(visit_out(visit)), status_code=201, media_type="application/json")
            if claim is not None:
                claim.record(session, response)  # the answer commits with the visit, or neither does
            return response

    async def produce(claim: Claim | None) -> Response:
        return await run_in_threadpool(store, claim)

    return await run_once(request, caller, database, settings, await request.body(), produce)


@router.get("/{pseudonym}/visits", response_model=VisitsResponse)
def read_visits(
    pseudonym: str,
    caller: CallerDep,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: CursorQuery = None,
) -> VisitsResponse:
    """The household's visits, newest first, each marked when a later one corrects it; a page at a time
    (`cursor` of the previous page)."""
    caller.require(Permission.READ)
    after = decode_cursor(cursor, (date, int))
    with database.read_session() as session:
        if household_region(session, caller.scope, pseudonym) is None:
            raise NotFoundError("no household with this id in your region")
        visits = household_visits(session, caller.scope, pseudonym)
    kept = {v.id for v in standing(visits)}  # over every visit: a correction may lie on another page
    page = page_after(visits, lambda v: (v.visited_on, v.id), after, limit, cursor)
    return VisitsResponse(
        household_pseudonym=pseudonym,
        visits=[visit_out(v, v.id not in kept) for v in page.items],
        cursor=page.cursor,
        more=page.more,
    )
