"""Regions: new-risk counts by level, main risk types, the visit list, current monitoring objects apart with their
elimination readiness, and the hidden-need list."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Query

from service.deps import CallerDep, DatabaseDep
from service.keys import Permission
from service.paging import MAX_PAGE, CursorQuery, decode_cursor, encode_cursor, page_after
from service.reports.hidden_need import DEFAULT_SHARE, MAX_SHARE, HiddenNeedRow, hidden_need_list, read_rows
from service.reports.worklist import reference_places
from service.routers.households import stored_score
from service.schemas import (
    ExpectedIdentificationsOut,
    HiddenNeedCountyOut,
    HiddenNeedItem,
    HiddenNeedResponse,
    MonitoringTypeOut,
    ReadinessListResponse,
    RegionSummaryResponse,
    RiskTypeOut,
)
from service.store import readiness_key, readiness_list, region_summary
from service.visits import latest_visits

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


@router.get("/{code}/hidden-need", response_model=HiddenNeedResponse)
def read_hidden_need(
    code: str,
    caller: CallerDep,
    database: DatabaseDep,
    share: Annotated[
        float, Query(gt=0, le=MAX_SHARE, description="the list's size as a share of each county's households")
    ] = DEFAULT_SHARE,
    include_flagged: Annotated[
        bool, Query(description="list households an official-rule flag raises too (false: leave them out)")
    ] = True,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: CursorQuery = None,
) -> HiddenNeedResponse:
    """Households likely in need that monitoring has not taken up — not current monitoring objects, not settled
    by a visit, and with `include_flagged=false` no official-rule flag — `share` of each county's households,
    highest probability first, with the risk types behind each; a page at a time. 403 for a region outside the
    caller's scope."""
    caller.require(Permission.READ)
    inner = caller.scope.narrow(code)
    after = decode_cursor(cursor, (int, str))
    places = reference_places(database)
    with database.read_session() as session:
        visits = latest_visits(session, inner)
        listed = hidden_need_list(session, inner, places, share, visits=visits, include_flagged=include_flagged)
        page = page_after(listed.entries, lambda entry: entry.key, after, limit, cursor, ascending=True)
        rows = read_rows(session, inner, page.items, places)
    names = {place.county_code: place.county for place in places.values()}
    return HiddenNeedResponse(
        region_code=listed.region_code,
        share=listed.share,
        include_flagged=listed.include_flagged,
        total=len(listed.entries),
        counties=[
            HiddenNeedCountyOut(
                county_code=c.county_code,
                county_name=names.get(c.county_code, ""),
                households=c.households,
                size=c.size,
                listed=c.listed,
                flagged=c.flagged,
                settled=c.settled,
            )
            for c in listed.counties
        ],
        items=[_item(row) for row in rows],
        cursor=page.cursor,
        more=page.more,
    )


def _item(row: HiddenNeedRow) -> HiddenNeedItem:
    view, place = row.view, row.place
    return HiddenNeedItem(
        rank=row.entry.rank,
        county_rank=row.entry.county_rank,
        household_pseudonym=view.household_pseudonym,
        region_code=view.region_code,
        village_name=place.village,
        township_code=place.township_code,
        township_name=place.township,
        county_code=row.entry.county_code,
        county_name=place.county,
        as_of=view.as_of,
        model_version=view.model_version,
        probability=view.probability,
        identification_probability=view.identification_probability,
        risk_level=view.level.value,
        monitoring_status=view.monitoring_status,
        expected_monitoring_type=MonitoringTypeOut.of(view.expected_monitoring_type),
        risk_types=row.risk_reasons,
        reasons=view.reasons,
        synthetic=view.synthetic,
    )
