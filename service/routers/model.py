"""Model: what is serving (version, metrics, model card) and, for admins, picking up a new champion now."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool

from service.deps import CallerDep, HolderDep, ModelDep
from service.keys import Permission
from service.model_holder import ModelLoadError
from service.schemas import ModelResponse, ReloadResponse

router = APIRouter(prefix="/v1", tags=["model"])


@router.get("/model", response_model=ModelResponse)
def read_model(caller: CallerDep, serving: ModelDep, holder: HolderDep) -> ModelResponse:
    """The serving model: registry version, where it was loaded from, metrics and model card."""
    caller.require(Permission.MODEL)
    metrics = serving.info.get("metrics") or {}
    return ModelResponse(
        version=serving.version,
        name=holder.source.name,
        alias=holder.source.alias,
        source=serving.source,
        synthetic=serving.synthetic,
        loaded_at=datetime.fromtimestamp(serving.loaded_at, UTC),
        degraded=holder.degraded,
        refused=holder.refused,
        metrics={str(k): float(v) for k, v in metrics.items()},
        model_card=serving.info.get("model_card"),
        meta={k: v for k, v in serving.model.meta.items() if isinstance(v, str | int | float | bool)},
    )


@router.post("/admin/model:reload", response_model=ReloadResponse)
async def reload_model(caller: CallerDep, holder: HolderDep) -> ReloadResponse:
    """Load the alias's current version now (admin); requests in flight finish on the version they started with."""
    caller.require(Permission.RELOAD)
    try:
        changed = await run_in_threadpool(holder.reload)
    except ModelLoadError as error:  # the previous model keeps serving
        raise HTTPException(409, f"the new model was refused: {error}") from error
    except Exception as error:  # noqa: BLE001 — registry unreachable: the previous model keeps serving
        raise HTTPException(503, f"the registry cannot be read: {type(error).__name__}") from error
    current = holder.current
    return ReloadResponse(changed=changed, version=current.version if current else None)
