"""Typed dependencies of the routes: settings, database, the verified caller and the serving model.

Tests swap any of them with `app.dependency_overrides`. The database, the model holder and the pseudonym key are
created once in the app's lifespan (`service.app`) and kept on `app.state`.

The ones that only read `app.state` or a header are `async def`: FastAPI runs a plain `def` dependency in the
thread pool, and a hand-off per dependency per request cost more than the dependency itself. `get_caller` reads
the database (a read-only connection: no write lock) and stays a plain `def`, so a slow database never blocks
the event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request

from features.pseudonyms.keys import PseudonymKey
from service.db import Database
from service.errors import AuthenticationError
from service.keys import Caller, verify_key
from service.limits import KeyLimits
from service.model_holder import ModelHolder, ServingModel
from service.problems import ModelUnavailableError
from service.references import ReferenceHolder
from service.settings import ServiceSettings, get_settings


async def get_app_settings(request: Request) -> ServiceSettings:
    """The settings the app was created with (no dependency override: FastAPI re-analyses every dependency of a
    request while any override is set, a cost paid on every request)."""
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, ServiceSettings) else get_settings()


SettingsDep = Annotated[ServiceSettings, Depends(get_app_settings)]


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


HolderDep = Annotated[ModelHolder, Depends(get_holder)]


async def get_references(request: Request) -> ReferenceHolder:
    references: ReferenceHolder = request.app.state.references
    return references


ReferencesDep = Annotated[ReferenceHolder, Depends(get_references)]


async def get_pseudonym_key(request: Request) -> PseudonymKey | None:
    key: PseudonymKey | None = request.app.state.pseudonym_key
    return key


PseudonymKeyDep = Annotated[PseudonymKey | None, Depends(get_pseudonym_key)]


def get_verified_caller(
    database: DatabaseDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Caller:
    """The caller of `Authorization: Bearer <key>` or `X-API-Key: <key>`; 401 without a valid key."""
    presented = x_api_key
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthenticationError("use 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        presented = credentials.strip()
    if not presented:
        raise AuthenticationError("an API key is required")
    with database.read() as connection:
        return verify_key(connection, presented)


async def get_caller(
    request: Request, caller: Annotated[Caller, Depends(get_verified_caller)]
) -> AsyncIterator[Caller]:
    """The verified caller, counted against its key's limits (`service.limits`, 429 past them) until the request
    has been answered. On the event loop: the counting takes no thread-pool hop."""
    limits: KeyLimits | None = getattr(request.app.state, "key_limits", None)
    if limits is None:
        yield caller
        return
    limits.acquire(caller.key_id, caller.role.value)
    try:
        yield caller
    finally:
        limits.release(caller.key_id)


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_model(holder: ModelHolder) -> ServingModel:
    """The serving model, taken once: the whole request is answered by this version even if a reload swaps it."""
    current = holder.current
    if current is None:
        raise ModelUnavailableError(holder.degraded or "no model is loaded")
    return current


async def get_serving_model(holder: HolderDep) -> ServingModel:
    """`get_model` as a dependency (without a thread-pool hand-off)."""
    return get_model(holder)


ModelDep = Annotated[ServingModel, Depends(get_serving_model)]


async def get_request_id(x_request_id: Annotated[str | None, Header(max_length=64, pattern=r"^[!-~]+$")] = None) -> str:
    """The caller's request id (echoed into the audit log), else a new one."""
    return x_request_id or uuid.uuid4().hex


RequestIdDep = Annotated[str, Depends(get_request_id)]
