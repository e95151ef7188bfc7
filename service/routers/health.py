"""Health: liveness, and readiness (a model is loaded and the database takes reads and writes)."""

from __future__ import annotations

import time
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.db import Database
from service.deps import DatabaseDep, HolderDep
from service.schemas import ReadyResponse

# Orchestrators poll readiness every few seconds; the write probe runs at most this often per process.
PROBE_INTERVAL_S: Final = 5.0

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "live"}


@router.get("/ready", response_model=ReadyResponse)
def ready(request: Request, holder: HolderDep, database: DatabaseDep) -> JSONResponse:
    """Ready to score: a model is loaded and the database answers and takes writes (503 otherwise); says when
    degraded. A service whose every write fails cannot store a decision, so it is not ready."""
    current = holder.current
    database_ok = database.ping()
    writable = database_ok and _writable(request, database)
    body = ReadyResponse(
        ready=current is not None and writable,
        model_version=current.version if current else None,
        database=database_ok,
        writable=writable,
        degraded=holder.degraded,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


def _writable(request: Request, database: Database) -> bool:
    """The latest write probe's answer, probing again when it is older than `PROBE_INTERVAL_S`."""
    last: tuple[float, bool] | None = getattr(request.app.state, "write_probe", None)
    now = time.monotonic()
    if last is None or now - last[0] >= PROBE_INTERVAL_S:
        last = (now, database.probe_write())
        request.app.state.write_probe = last
    return last[1]
