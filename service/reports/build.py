"""Report contexts from the service's own state: the caller's scope, the database and the serving model.

Used by the `/reports` pages and by `relapse report`; permissions and region scope are checked here, so both
paths apply the same rules (docs/architecture.md, non-negotiable 6).
"""

from __future__ import annotations

from typing import Any

from service.db import Database
from service.errors import NotFoundError, PermissionDeniedError
from service.keys import Caller, Permission
from service.model_holder import ServingModel
from service.reports import pages
from service.reports._cache import region_data_cached
from service.reports._registry import RegistryReader
from service.reports.drift import read_drift
from service.reports.i18n import Messages
from service.settings import ServiceSettings
from service.store import household_history

HISTORY_LIMIT = 50


def require_reports(caller: Caller) -> None:
    caller.require(Permission.REPORTS)


def require_model_report(caller: Caller) -> None:
    """Officials (reports) and scientists (model) may read the model report."""
    if not (caller.can(Permission.REPORTS) or caller.can(Permission.MODEL)):
        raise PermissionDeniedError(caller.role.value, Permission.REPORTS.value)


def household_report(database: Database, caller: Caller, pseudonym: str, m: Messages) -> dict[str, Any]:
    """404 alike for an unknown household and for one in another region."""
    require_reports(caller)
    with database.read_session() as session:
        history = household_history(session, caller.scope, pseudonym, limit=HISTORY_LIMIT)
    if not history:
        raise NotFoundError("no scores for this household in your region")
    return pages.household_context(history, m)


def region_report(
    database: Database, caller: Caller, code: str, settings: ServiceSettings, m: Messages
) -> dict[str, Any]:
    """403 for a region outside the caller's scope (decided from the codes alone)."""
    require_reports(caller)
    inner = caller.scope.narrow(code)  # OutOfScopeError before anything is read or cached
    with database.read_session() as session:
        data = region_data_cached(database, session, inner, settings.reports_visit_list, settings.reports_compare_list)
    return pages.region_context(data.summary, data.trend, data.model_only, data.rules_only, m)


def model_report(
    serving: ServingModel,
    caller: Caller,
    reader: RegistryReader,
    settings: ServiceSettings,
    m: Messages,
    *,
    alias: str,
    degraded: str | None,
) -> dict[str, Any]:
    require_model_report(caller)
    return pages.model_context(
        serving,
        name=reader.model_name,
        alias=alias,
        degraded=degraded,
        artifacts=reader.run_artifacts(serving.info.get("run_id")),
        history=reader.history(),
        drift=read_drift(settings.data_dir, serving.version),
        psi_watch=settings.reports_psi_watch,
        psi_warning=settings.reports_psi_warning,
        m=m,
    )
