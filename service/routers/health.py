"""Health: liveness, and readiness (a model is loaded and the database answers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import DatabaseDep, HolderDep
from service.schemas import ReadyResponse

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "live"}


@router.get("/ready", response_model=ReadyResponse)
def ready(holder: HolderDep, database: DatabaseDep) -> JSONResponse:
    """Ready to score: a model is loaded and the database reachable (503 otherwise); says when degraded."""
    current = holder.current
    database_ok = database.ping()
    body = ReadyResponse(
        ready=current is not None and database_ok,
        model_version=current.version if current else None,
        database=database_ok,
        degraded=holder.degraded,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)
