"""Issued visit lists of a region: issue one (monitors and officials), read one back (readers)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from service.deps import CallerDep, DatabaseDep, SettingsDep
from service.idempotency import Claim, run_once
from service.issued_lists import DEFAULT_EXPLORATION_SHARE, MAX_EXPLORATION_SHARE, issue_list, read_list
from service.keys import Permission
from service.paging import MAX_PAGE, CursorQuery, decode_cursor, page_after
from service.reports.build import capacity_of
from service.reports.worklist import MAX_PER_VILLAGE, reference_places
from service.tables import IssuedList, IssuedListRow
from service.visits import latest_visits

router = APIRouter(prefix="/v1/regions", tags=["visit lists"])


class VisitListRequest(BaseModel):
    """How to draw the list; every field may be left out."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"visits_per_village": 20, "exploration_share": 0.1}]}
    )

    visits_per_village: int | None = Field(
        default=None, ge=1, le=MAX_PER_VILLAGE, description="slots per village; default: the service's capacity"
    )
    exploration_share: float = Field(
        default=DEFAULT_EXPLORATION_SHARE,
        ge=0.0,
        le=MAX_EXPLORATION_SHARE,
        description="share of each village's slots drawn at random from its other listable households",
    )
    seed: int | None = Field(
        default=None, ge=0, le=2**62, description="seed of the random draw; default: derived from the version"
    )


class VisitListItem(BaseModel):
    household_pseudonym: str
    region_code: str
    rank: int  # in its village
    probability: float
    model_version: str
    selection_probability: float  # the chance the list's design gave the household of being listed
    explored: bool  # drawn at random rather than taken by rank


class VisitListResponse(BaseModel):
    list_version: str  # name it in each visit's `list_version`
    region_code: str
    as_of: date
    visits_per_village: int
    exploration_share: float
    seed: int
    issued_at: datetime
    households: int  # on the whole list
    items: list[VisitListItem]  # by village, then rank
    cursor: str | None
    more: bool


_RESPONSE: Final = TypeAdapter(VisitListResponse)


def _response(head: IssuedList, rows: list[IssuedListRow], limit: int, cursor: str | None) -> VisitListResponse:
    after = decode_cursor(cursor, (str, int))
    page = page_after(rows, lambda r: (r.region_code, r.rank), after, limit, cursor, ascending=True)
    return VisitListResponse(
        list_version=head.list_version,
        region_code=head.region_code,
        as_of=head.as_of,
        visits_per_village=head.per_village,
        exploration_share=head.exploration_share,
        seed=head.seed,
        issued_at=head.issued_at,
        households=len(rows),
        items=[
            VisitListItem(
                household_pseudonym=r.household_pseudonym,
                region_code=r.region_code,
                rank=r.rank,
                probability=r.probability,
                model_version=r.model_version,
                selection_probability=r.selection_probability,
                explored=r.explored,
            )
            for r in page.items
        ],
        cursor=page.cursor,
        more=page.more,
    )


@router.post("/{code}/visit-lists", response_model=VisitListResponse, status_code=201)
async def create_visit_list(
    code: str,
    body: VisitListRequest,
    caller: CallerDep,
    database: DatabaseDep,
    settings: SettingsDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Response:
    """Issue the region's visit list and store it with its design: per village, the highest-probability
    households and a seeded random draw from the rest, each with its selection probability (docs/api.md). Visits
    name its `list_version`. 403 outside the caller's scope; 404 when nothing can be listed."""
    caller.require(Permission.VISITS)
    inner = caller.scope.narrow(code)
    per_village = body.visits_per_village or capacity_of(settings).per_village
    places = reference_places(database)

    def store(claim: Claim | None) -> Response:
        with database.session() as session:
            head, rows = issue_list(
                session,
                inner,
                per_village,
                places,
                share=body.exploration_share,
                seed=body.seed,
                visits=latest_visits(session, inner),
                key_id=caller.key_id,
            )
            answer = _response(head, rows, limit, None)
            response = Response(_RESPONSE.dump_json(answer), status_code=201, media_type="application/json")
            if claim is not None:
                claim.record(session, response)  # the answer commits with the list, or neither does
            return response

    async def produce(claim: Claim | None) -> Response:
        return await run_in_threadpool(store, claim)

    return await run_once(request, caller, database, settings, await request.body(), produce)


@router.get("/{code}/visit-lists/{version}", response_model=VisitListResponse)
def read_visit_list(
    code: str,
    version: Annotated[str, Path(max_length=64)],
    caller: CallerDep,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: CursorQuery = None,
) -> VisitListResponse:
    """An issued list as it was handed out, a page at a time; 404 alike for an unknown list and another region's."""
    caller.require(Permission.READ)
    inner = caller.scope.narrow(code)
    with database.read_session() as session:
        head, rows = read_list(session, inner, version)
    return _response(head, rows, limit, cursor)
