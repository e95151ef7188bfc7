"""Households: the stored score history of one household inside the caller's region."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from service.deps import CallerDep, DatabaseDep
from service.errors import NotFoundError
from service.keys import Permission
from service.paging import CursorQuery, decode_cursor, page_of
from service.schemas import HistoryResponse, MonitoringTypeOut, ReadinessOut, StoredScore
from service.store import ScoreView, household_history

router = APIRouter(prefix="/v1/households", tags=["households"])


def stored_score(view: ScoreView) -> StoredScore:
    return StoredScore(
        household_pseudonym=view.household_pseudonym,
        region_code=view.region_code,
        as_of=view.as_of,
        scored_at=view.scored_at,
        model_version=view.model_version,
        probability=view.probability,
        identification_probability=view.identification_probability,
        risk_level=view.level.value,
        reasons=view.reasons,
        measures=view.measures,
        rule_flags=view.rule_flags,
        synthetic=view.synthetic,
        expected_monitoring_type=MonitoringTypeOut.of(view.expected_monitoring_type),
        elimination_readiness=ReadinessOut.of(view.elimination_readiness),
        **view.status_fields(),
    )


@router.get("/{pseudonym}/scores", response_model=HistoryResponse)
def read_history(
    pseudonym: str,
    caller: CallerDep,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: CursorQuery = None,
) -> HistoryResponse:
    """The household's stored scores, newest first, a page at a time (`cursor` of the previous page); 404 alike
    for unknown households and other regions'."""
    caller.require(Permission.READ)
    after = decode_cursor(cursor, (date, datetime, int))
    with database.read_session() as session:
        views = household_history(session, caller.scope, pseudonym, limit=limit + 1, after=after)
        if not views and (after is None or not household_history(session, caller.scope, pseudonym, limit=1)):
            raise NotFoundError("no scores for this household in your region")
    page = page_of(views, lambda view: (view.as_of, view.scored_at, view.id), limit, cursor)
    return HistoryResponse(
        household_pseudonym=pseudonym,
        scores=[stored_score(v) for v in page.items],
        cursor=page.cursor,
        more=page.more,
    )
