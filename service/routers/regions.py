"""Regions: new-risk counts by level, main risk types, the visit list, current monitoring objects apart, and
their elimination readiness."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Query

from service.deps import CallerDep, DatabaseDep
from service.keys import Permission
from service.paging import MAX_PAGE, CursorQuery, decode_cursor, encode_cursor
from service.routers.households import stored_score
from service.schemas import (
    ExpectedIdentificationsOut,
    ReadinessListResponse,
    RegionSummaryResponse,
    RiskTypeOut,
)
from service.store import readiness_key, readiness_list, region_summary

router = APIRouter(prefix="/v1/regions", tags=["regions"])


@router.get("/{code}/summary", response_model=RegionSummaryResponse)
def read_summary(
    code: str, caller: CallerDep, database: DatabaseDep, top_k: Annotated[int, Query(ge=1, le=1000)] = 20
) -> RegionSummaryResponse:
    """Summary of a region (any level) inside the caller's scope; 403 for a region outside it.

    New-risk fields cover households that can be newly identified; current monitoring objects are in
    `monitored_list`."""
    caller.require(Permission.READ)
    with database.read_session() as session:
        summary = region_summary(session, caller.scope, code, top_k)
    expected = summary.expected_identifications
    return RegionSummaryResponse(
        region_code=summary.region_code,
        households=summary.households,
        newly_identifiable=summary.newly_identifiable,
        by_status=summary.by_status,
        by_level={level.value: count for level, count in summary.by_level.items()},
        top_risk_types=[RiskTypeOut(key=t.key, households=t.households, share=t.share) for t in summary.top_risk_types],
        visit_list=[stored_score(v) for v in summary.visit_list],
        monitored_list=[stored_score(v) for v in summary.monitored_list],
        expected_identifications=ExpectedIdentificationsOut(
            expected=expected.expected,
            low=expected.low,
            high=expected.high,
            confidence=expected.confidence,
            households=expected.households,
        ),
        latest_identifications_by_year=summary.latest_identifications_by_year,
        identifications_by_year=summary.identifications_by_year,
        latest_as_of=summary.latest_as_of,
        synthetic=summary.synthetic,
    )


@router.get("/{code}/readiness", response_model=ReadinessListResponse)
def read_readiness(
    code: str,
    caller: CallerDep,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: CursorQuery = None,
) -> ReadinessListResponse:
    """The region's current monitoring objects, oldest identification first, each with every risk-elimination
    condition checked (met, not met or not observed), a page at a time; 403 for a region outside the scope."""
    caller.require(Permission.READ)
    after = decode_cursor(cursor, (str, str))
    with database.read_session() as session:
        listed = readiness_list(session, caller.scope, code, limit, after=cast("tuple[str, str] | None", after))
    last = listed.items[-1] if listed.items else None
    return ReadinessListResponse(
        region_code=listed.region_code,
        items=[stored_score(v) for v in listed.items],
        cursor=encode_cursor(readiness_key(last)) if last is not None else cursor,
        more=listed.more,
    )
