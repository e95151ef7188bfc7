"""Households: the stored score history of one household inside the caller's region."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.deps import CallerDep, DatabaseDep
from service.errors import NotFoundError
from service.keys import Permission
from service.schemas import HistoryResponse, StoredScore
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
        risk_level=view.level.value,
        reasons=view.reasons,
        measures=view.measures,
        rule_flags=view.rule_flags,
        synthetic=view.synthetic,
        **view.status_fields(),
    )


@router.get("/{pseudonym}/scores", response_model=HistoryResponse)
def read_history(
    pseudonym: str, caller: CallerDep, database: DatabaseDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> HistoryResponse:
    """The household's stored scores, newest first; 404 alike for unknown households and other regions'."""
    caller.require(Permission.READ)
    with database.read_session() as session:
        views = household_history(session, caller.scope, pseudonym, limit=limit)
    if not views:
        raise NotFoundError("no scores for this household in your region")
    return HistoryResponse(household_pseudonym=pseudonym, scores=[stored_score(v) for v in views])
