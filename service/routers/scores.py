"""Scoring: household documents or already-built profiles in, probabilities with reasons and measures out.

Small requests (up to `RELAPSE_COALESCE_ROWS` households or profiles) are scored in the worker's scoring lane: one
at a time, in arrival order (`service._coalescing`); larger ones on the thread pool. The routes are `async def` and
hand the whole scoring to a thread in one call: FastAPI runs a plain `def` route, and then the validation of its
return value, each in a thread-pool hand-off of its own. The answer is
serialised here with the same pydantic serialiser FastAPI uses for `response_model` (the same bytes), without
validating the model just built a second time.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from features.profiles.build import build_profiles
from service._coalescing import Coalescer
from service.deps import CallerDep, DatabaseDep, ModelDep, PseudonymKeyDep, ReferencesDep, RequestIdDep, SettingsDep
from service.documents import ingest_documents
from service.household_sources import kept_rows
from service.idempotency import Claim, run_once
from service.keys import Permission
from service.profile_rows import profiles_for_scoring
from service.schemas import HouseholdScoreRequest, ProfileScoreRequest, ScoreResponse
from service.scoring import (
    ScoreContext,
    ScoreRequest,
    check_batch,
    score_profiles,
)

router = APIRouter(prefix="/v1", tags=["scores"])
_RESPONSE: Final = TypeAdapter(ScoreResponse)


@router.post("/households:score", response_model=ScoreResponse)
async def score_households(
    body: HouseholdScoreRequest,
    caller: CallerDep,
    serving: ModelDep,
    database: DatabaseDep,
    settings: SettingsDep,
    key: PseudonymKeyDep,
    references: ReferencesDep,
    request_id: RequestIdDep,
    request: Request,
) -> Response:
    """Score household documents (the source-data contract's shape): validated, pseudonymised and profiled as in
    batch, with the service's villages reference as county and village context; 422 lists every violation.
    Each household's ingested rows are kept (replacing earlier ones), so that a department event re-scores it.
    With an `Idempotency-Key`, a repeat of the same request answers the first one's scores, stored once."""

    def score() -> ScoreResponse:
        caller.require(Permission.SCORE)
        check_batch(len(body.households), settings, "households")
        for i, document in enumerate(body.households):
            caller.scope.require(str(document.household.get("region_code", "")), "household.region_code", i)
        reference = references.current
        as_of = body.as_of or date.today()
        documents = ingest_documents(body.households, key, reference)
        profiles = build_profiles(documents.sources, as_of)
        context = ScoreContext(caller, serving, database, settings, request_id)
        version = reference.label if reference is not None else None
        kept = kept_rows(documents, as_of)
        return score_profiles(context, profiles, explain=body.explain, context_version=version, writes=kept)

    async def produce(_: Claim | None) -> Response:
        lane: anyio.CapacityLimiter | None = getattr(request.app.state, "scoring_lane", None)
        if lane is not None and len(body.households) <= settings.coalesce_rows:
            return _answer(request, await anyio.to_thread.run_sync(score, limiter=lane), request_id)
        return _answer(request, await run_in_threadpool(score), request_id)

    return await run_once(request, caller, database, settings, await request.body(), produce)


@router.post("/profiles:score", response_model=ScoreResponse)
async def score_profile_rows(
    body: ProfileScoreRequest,
    caller: CallerDep,
    serving: ModelDep,
    database: DatabaseDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    request: Request,
) -> Response:
    """Score already-built profiles (catalogue feature → value), for systems that compute features themselves.
    With an `Idempotency-Key`, a repeat of the same request answers the first one's scores, stored once."""

    def prepare() -> ScoreRequest:
        caller.require(Permission.SCORE)
        check_batch(len(body.profiles), settings, "profiles")
        profiles = profiles_for_scoring(body.profiles, body.as_of or date.today())
        return ScoreRequest(ScoreContext(caller, serving, database, settings, request_id), profiles, body.explain)

    def score() -> ScoreResponse:
        prepared = prepare()
        return score_profiles(prepared.context, prepared.profiles, explain=prepared.explain)

    async def produce(_: Claim | None) -> Response:
        coalescer: Coalescer | None = getattr(request.app.state, "coalescer", None)
        if coalescer is None or len(body.profiles) > coalescer.max_rows:
            return _answer(request, await run_in_threadpool(score), request_id)
        # A small request joins the requests scored in the worker's next pass; its rows are read here, on the
        # event loop, so that its own input errors never reach the others.
        return _answer(request, await coalescer.score(prepare()), request_id)

    return await run_once(request, caller, database, settings, await request.body(), produce)


def _answer(request: Request, answer: ScoreResponse, request_id: str) -> Response:
    """The JSON response; scores by risk level counted for /metrics (after they were stored and audited)."""
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        for item in answer.items:
            metrics.scores.labels(item.risk_level).inc()
    response = Response(_RESPONSE.dump_json(answer), media_type="application/json")
    response.headers["X-Request-ID"] = request_id
    return response
