"""Regions: new-risk counts by level, main risk types, the visit list, current monitoring objects apart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.deps import CallerDep, DatabaseDep
from service.keys import Permission
from service.routers.households import stored_score
from service.schemas import ExpectedIdentificationsOut, RegionSummaryResponse, RiskTypeOut
from service.store import region_summary

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
