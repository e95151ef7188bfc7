"""The FastAPI application: `create_app()` wires settings, database, model holder, routers and error handlers.

The lifespan opens and migrates the database and loads the model once (FastAPI's "Lifespan Events" pattern);
tests pass their own database and holder, or swap dependencies with `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from features.pseudonyms import PseudonymKey, ensure_local_key
from service.db import Database, open_database
from service.migrate import upgrade_database
from service.model_holder import ModelHolder, RegistrySource
from service.problems import BodyLimitMiddleware, install_problem_handlers
from service.routers import health, households, model, regions, scores
from service.settings import ServiceSettings, get_settings


def build_holder(settings: ServiceSettings) -> ModelHolder:
    source = RegistrySource(settings.mlflow_uri, settings.model_name, settings.model_alias)
    return ModelHolder(source, settings.model_cache_dir or settings.data_dir / "model-cache")


def create_app(
    settings: ServiceSettings | None = None,
    *,
    holder: ModelHolder | None = None,
    database: Database | None = None,
    pseudonym_key: PseudonymKey | None = None,
) -> FastAPI:
    """The API. Given a database or holder, the app uses it as it is and leaves closing it to the caller."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        if database is None:
            await run_in_threadpool(upgrade_database, settings.database_url)
            app.state.database = open_database(settings.database_url, settings)
        else:
            app.state.database = database
        app.state.holder = holder or build_holder(settings)
        if app.state.holder.current is None:
            await run_in_threadpool(app.state.holder.start)
        # The same key as `relapse ingest`: pseudonyms from the API match those of batch-ingested data.
        app.state.pseudonym_key = pseudonym_key or (await run_in_threadpool(ensure_local_key))[0]
        try:
            yield
        finally:
            if owned:
                app.state.database.dispose()

    app = FastAPI(
        title="Relapse-risk scoring service",
        version="1",
        summary="Household relapse-risk scores with reasons, measures and an audit trail",
        lifespan=lifespan,
    )
    app.dependency_overrides[get_settings] = lambda: settings
    install_problem_handlers(app, settings.retry_after_s)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    for router in (scores.router, households.router, regions.router, model.router, health.router):
        app.include_router(router)
    return app
