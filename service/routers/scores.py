"""Scoring: household documents or already-built profiles in, probabilities with reasons and measures out."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response

from service.deps import CallerDep, DatabaseDep, ModelDep, PseudonymKeyDep, RequestIdDep, SettingsDep
from service.keys import Permission
from service.schemas import HouseholdScoreRequest, ProfileScoreRequest, ScoreResponse
from service.scoring import ScoreContext, check_batch, profiles_from_documents, profiles_from_rows, score_profiles

router = APIRouter(prefix="/v1", tags=["scores"])


@router.post("/households:score", response_model=ScoreResponse)
def score_households(
    body: HouseholdScoreRequest,
    caller: CallerDep,
    serving: ModelDep,
    database: DatabaseDep,
    settings: SettingsDep,
    key: PseudonymKeyDep,
    request_id: RequestIdDep,
    request: Request,
    response: Response,
) -> ScoreResponse:
    """Score household documents (the source-data contract's shape); profiles built as in batch and training."""
    caller.require(Permission.SCORE)
    check_batch(len(body.households), settings, "households")
    for i, document in enumerate(body.households):
        caller.scope.require(str(document.household.get("region_code", "")), "household.region_code", i)
    profiles = profiles_from_documents(body.households, body.as_of or date.today(), key)
    response.headers["X-Request-ID"] = request_id
    context = ScoreContext(caller, serving, database, settings, request_id)
    return _counted(request, score_profiles(context, profiles, explain=body.explain))


@router.post("/profiles:score", response_model=ScoreResponse)
def score_profile_rows(
    body: ProfileScoreRequest,
    caller: CallerDep,
    serving: ModelDep,
    database: DatabaseDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    request: Request,
    response: Response,
) -> ScoreResponse:
    """Score already-built profiles (catalogue feature → value), for systems that compute features themselves."""
    caller.require(Permission.SCORE)
    check_batch(len(body.profiles), settings, "profiles")
    profiles = profiles_from_rows(body.profiles, body.as_of or date.today())
    response.headers["X-Request-ID"] = request_id
    context = ScoreContext(caller, serving, database, settings, request_id)
    return _counted(request, score_profiles(context, profiles, explain=body.explain))


def _counted(request: Request, answer: ScoreResponse) -> ScoreResponse:
    """Scores by risk level for /metrics (counted after they were stored and audited)."""
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        for item in answer.items:
            metrics.scores.labels(item.risk_level).inc()
    return answer
