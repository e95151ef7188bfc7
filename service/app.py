"""The FastAPI application: `create_app()` wires settings, database, model holder, routers and error handlers.

The lifespan opens and migrates the database and loads the model once (FastAPI's "Lifespan Events" pattern);
tests pass their own database and holder, or swap dependencies with `app.dependency_overrides`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from functools import partial

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from features.pseudonyms.keys import PseudonymKey, ensure_local_key
from models.signing import ModelIntegrityError, SigningKey, signing_key
from service._coalescing import Coalescer, scoring_lane
from service.api_docs import install_api_docs
from service.db import Database, open_database
from service.errors import DatabaseUnavailableError
from service.event_pushes import store_and_rescore
from service.headers import SecurityHeadersMiddleware
from service.job_runner import JobRunner, job_executor
from service.limits import KeyLimits
from service.metrics import install_metrics
from service.migrate import upgrade_database
from service.model_holder import ModelHolder, RegistrySource
from service.openapi import install_openapi
from service.problems import BodyLimitMiddleware, install_problem_handlers
from service.references import ReferenceHolder
from service.routers import (
    events,
    feed,
    health,
    households,
    jobs,
    model,
    references,
    regions,
    reports,
    scores,
    subscriptions,
    visit_lists,
    visits,
)
from service.scoring import score_requests
from service.settings import ServiceSettings, get_settings

log = logging.getLogger(__name__)


async def poll_champion(holder: ModelHolder, interval_s: float, references: ReferenceHolder | None = None) -> None:
    """Pick up a new champion, and a newer villages reference, without a restart: every `interval_s` seconds.

    A failed poll (registry down, a model that does not fit) leaves the serving model in place.
    """
    while True:
        await asyncio.sleep(interval_s)
        try:
            if await run_in_threadpool(holder.reload):
                log.info("now serving model version %s", holder.current.version if holder.current else None)
        except Exception as error:  # noqa: BLE001 — keep serving; the next poll tries again
            holder.last_error = str(error)
            log.warning("model poll failed: %s", type(error).__name__)
        if references is not None:
            try:
                if await run_in_threadpool(references.refresh):
                    current = references.current
                    log.info("now profiling with villages reference %s", current.label if current else None)
            except Exception as error:  # noqa: BLE001 — keep the reference held; the next poll tries again
                log.warning("villages reference poll failed: %s", type(error).__name__)


def build_holder(settings: ServiceSettings) -> ModelHolder:
    source = RegistrySource(settings.mlflow_uri, settings.model_name, settings.model_alias)
    try:
        signing: SigningKey | None = signing_key(settings.data_dir, settings.model_signing_key)
    except ModelIntegrityError as error:  # no key: every model is refused, and /v1/model says why
        log.warning("%s", error)
        signing = None
    return ModelHolder(source, settings.model_cache_dir or settings.data_dir / "model-cache", signing)


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
        app.state.key_limits = KeyLimits(settings.rate_limits_per_minute, settings.concurrent_requests_per_key)
        app.state.references = ReferenceHolder(app.state.database)
        try:
            await run_in_threadpool(app.state.references.refresh)
        except DatabaseUnavailableError:  # serve what needs no database; the poll reads the reference later
            log.warning("villages reference not read: the database is unavailable")
        # The same key as `relapse ingest`: pseudonyms from the API match those of batch-ingested data.
        app.state.pseudonym_key = pseudonym_key or (await run_in_threadpool(ensure_local_key))[0]
        # Per event loop: small scoring requests take turns in one lane; profiles:score ones waiting together are
        # scored together.
        metrics = getattr(app.state, "metrics", None)
        on_pass = metrics.scoring_passes.observe if metrics is not None else None
        app.state.scoring_lane = scoring_lane() if settings.coalesce_rows else None
        app.state.coalescer = (
            Coalescer(settings.coalesce_rows, score_requests, on_pass=on_pass, lane=app.state.scoring_lane)
            if settings.coalesce_rows
            else None
        )
        app.state.event_pushes = (
            Coalescer(
                settings.coalesce_rows,
                partial(store_and_rescore, references=app.state.references),
                lane=app.state.scoring_lane,
            )
            if settings.coalesce_rows
            else None
        )
        app.state.job_runner = None
        if settings.job_runner:
            app.state.job_runner = JobRunner(
                app.state.database,
                app.state.holder,
                settings,
                app.state.pseudonym_key,
                executor_factory=job_executor(settings),
                references=app.state.references,
            )
            await run_in_threadpool(app.state.job_runner.start)
        poller = (
            asyncio.create_task(poll_champion(app.state.holder, settings.model_poll_s, app.state.references))
            if settings.model_poll_s > 0
            else None
        )
        try:
            yield
        finally:
            if app.state.job_runner is not None:
                await run_in_threadpool(app.state.job_runner.stop)
            if poller is not None:
                poller.cancel()
                with suppress(asyncio.CancelledError):
                    await poller
            if owned:
                app.state.database.dispose()

    app = FastAPI(
        title="Relapse-risk scoring service",
        version="1",
        summary="Household relapse-risk scores with reasons, measures and an audit trail",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None if settings.api_docs == "off" else "/openapi.json",
    )
    install_openapi(app)
    install_api_docs(app, settings.api_docs)
    app.state.settings = settings
    install_problem_handlers(app, settings.retry_after_s)
    install_metrics(app)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, larger={"/v1/jobs": settings.max_upload_bytes}
    )
    app.add_middleware(SecurityHeadersMiddleware)
    for router in (
        scores.router,
        households.router,
        visits.router,
        events.router,
        feed.router,
        subscriptions.router,
        subscriptions.replays,
        regions.router,
        visit_lists.router,
        jobs.router,
        model.router,
        references.router,
        reports.router,
        health.router,
    ):
        app.include_router(router)
    return app
