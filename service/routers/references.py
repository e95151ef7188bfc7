"""The villages reference: which version households are profiled with, and (admin) loading a new one."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from service.deps import CallerDep, DatabaseDep, ReferencesDep
from service.keys import Permission
from service.references import store_reference
from service.schemas import SCHEMA_MAX_ITEMS, Row

router = APIRouter(prefix="/v1", tags=["references"])


class VillagesUpload(BaseModel):
    """The whole villages table, as rows of the contract's `villages` table."""

    villages: list[Row] = Field(min_length=1, max_length=SCHEMA_MAX_ITEMS)


class VillageReferenceResponse(BaseModel):
    version: str | None  # "villages-v3"; None while the service holds no reference
    digest: str | None
    villages: int
    stored: bool | None = None  # after an upload: whether it was new (an identical table keeps its version)


@router.get("/references/villages", response_model=VillageReferenceResponse)
def read_villages_reference(caller: CallerDep, references: ReferencesDep) -> VillageReferenceResponse:
    """The villages reference household documents are profiled with (any role that may score or read)."""
    if not caller.can(Permission.READ):
        caller.require(Permission.SCORE)
    current = references.current
    if current is None:
        return VillageReferenceResponse(version=None, digest=None, villages=0)
    return VillageReferenceResponse(version=current.label, digest=current.digest, villages=len(current.villages))


@router.put("/references/villages", response_model=VillageReferenceResponse)
async def load_villages_reference(
    body: VillagesUpload, caller: CallerDep, database: DatabaseDep, references: ReferencesDep
) -> VillageReferenceResponse:
    """Load a new villages table (admin): validated against the contract (422 lists every violation), stored as
    a new version unless it equals the current one, and used for every household document from then on."""
    caller.require(Permission.KEYS)

    def store() -> tuple[int, bool]:
        villages = _villages(body.villages)
        return store_reference(database, villages, origin=f"upload by key {caller.key_id}")

    version, stored = await run_in_threadpool(store)
    await run_in_threadpool(references.refresh)
    current = references.current
    assert current is not None
    return VillageReferenceResponse(
        version=f"villages-v{version}", digest=current.digest, villages=len(current.villages), stored=stored
    )


def _villages(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as they came: `store_reference` types them, so that unreadable cells are reported, not emptied."""
    return pd.DataFrame(rows)
