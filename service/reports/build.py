"""Report contexts from the service's own state: the caller's scope, the database and the serving model.

Used by the `/reports` pages and by `relapse report`; permissions and region scope are checked here, so both
paths apply the same rules (docs/architecture.md, non-negotiable 6).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from service.db import Database
from service.errors import NotFoundError, PermissionDeniedError
from service.keys import Caller, Permission
from service.model_holder import ServingModel
from service.reports import hidden_need_table, pages, work_table
from service.reports._cache import region_data_cached
from service.reports._registry import RegistryReader, RunArtifacts
from service.reports.drift import ScoreDrift, read_drift, score_drift
from service.reports.hidden_need import DEFAULT_SHARE, HiddenNeedList, HiddenNeedRow, hidden_need_list, read_rows
from service.reports.i18n import Messages
from service.reports.worklist import Capacity, WorkList, reference_places, work_list
from service.served_scores import score_bin_counts
from service.settings import ServiceSettings
from service.store import household_history
from service.visits import hit_rates, latest_visits

HISTORY_LIMIT = 50


def require_reports(caller: Caller) -> None:
    caller.require(Permission.REPORTS)


def require_model_report(caller: Caller) -> None:
    """Officials (reports) and scientists (model) may read the model report."""
    if not (caller.can(Permission.REPORTS) or caller.can(Permission.MODEL)):
        raise PermissionDeniedError(caller.role.value, Permission.REPORTS.value)


def household_report(
    database: Database, caller: Caller, pseudonym: str, m: Messages, label: str | None = None
) -> dict[str, Any]:
    """404 alike for an unknown household and for one in another region; `label` is the serving model's."""
    require_reports(caller)
    with database.read_session() as session:
        history = household_history(session, caller.scope, pseudonym, limit=HISTORY_LIMIT)
    if not history:
        raise NotFoundError("no scores for this household in your region")
    return pages.household_context(history, m, places=reference_places(database), label=label)


def capacity_of(
    settings: ServiceSettings,
    visits_per_worker: int | None = None,
    workers: int | None = None,
    visits_per_village: int | None = None,
) -> Capacity:
    """The request's capacity where it sets one, else the deployment's (`RELAPSE_REPORTS_*`). A request that
    names visits per worker or workers is sized by them, not by the deployment's explicit count."""
    per_village = visits_per_village
    if per_village is None and visits_per_worker is None and workers is None:
        per_village = settings.reports_visits_per_village
    return Capacity(
        visits_per_worker or settings.reports_visits_per_worker,
        workers or settings.reports_workers,
        per_village,
    )


def region_work_list(database: Database, caller: Caller, code: str, capacity: Capacity) -> WorkList:
    """The region's work list alone (for the CSV and Excel exports); 403 outside the caller's scope."""
    require_reports(caller)
    inner = caller.scope.narrow(code)
    places = reference_places(database)
    with database.read_session() as session:
        return work_list(session, inner, capacity, places, visits=latest_visits(session, inner))


def work_list_file(database: Database, caller: Caller, code: str, capacity: Capacity, m: Messages, fmt: str) -> bytes:
    """The region's work list as an Excel (`xlsx`) or CSV file, titled with the region's name."""
    work = region_work_list(database, caller, code, capacity)
    if fmt == "csv":
        return work_table.to_csv(work, m)
    places = reference_places(database)
    title = m.t("region.visit_list") + m.t("punct.colon") + pages.place_title(work.region_code, places, m)
    return work_table.to_xlsx(work, m, title, [pages.worklist_context(work, m)["note"]])


def region_hidden_need(
    database: Database, caller: Caller, code: str, share: float = DEFAULT_SHARE, rows: int | None = None
) -> tuple[HiddenNeedList, list[HiddenNeedRow]]:
    """The region's hidden-need list and the rows of its first `rows` households (all without a limit); 403
    outside the caller's scope."""
    require_reports(caller)
    inner = caller.scope.narrow(code)
    places = reference_places(database)
    with database.read_session() as session:
        listed = hidden_need_list(session, inner, places, share, visits=latest_visits(session, inner))
        return listed, read_rows(session, inner, listed.entries[:rows], places)


def hidden_need_file(database: Database, caller: Caller, code: str, share: float, m: Messages, fmt: str) -> bytes:
    """The region's hidden-need list as an Excel (`xlsx`) or CSV file, titled with the region's name."""
    listed, rows = region_hidden_need(database, caller, code, share)
    if fmt == "csv":
        return hidden_need_table.to_csv(rows, m)
    places = reference_places(database)
    title = m.t("region.hidden_need") + m.t("punct.colon") + pages.place_title(listed.region_code, places, m)
    return hidden_need_table.to_xlsx(rows, m, title, [hidden_need_table.note(listed, m)])


def region_report(
    database: Database,
    caller: Caller,
    code: str,
    settings: ServiceSettings,
    m: Messages,
    capacity: Capacity | None = None,
    share: float = DEFAULT_SHARE,
    label: str | None = None,
) -> dict[str, Any]:
    """403 for a region outside the caller's scope (decided from the codes alone). The work list is cut to
    `capacity` per village (default: the deployment's settings); the hidden-need list holds `share` of each
    county's households; `label` is the serving model's, when one is loaded (what its probabilities estimate)."""
    require_reports(caller)
    inner = caller.scope.narrow(code)  # OutOfScopeError before anything is read or cached
    places = reference_places(database)
    with database.read_session() as session:
        data = region_data_cached(database, session, inner, settings.reports_visit_list, settings.reports_compare_list)
        work = work_list(
            session, inner, capacity or capacity_of(settings), places, visits=latest_visits(session, inner)
        )
        rates = hit_rates(session, inner)
    listed, shown = region_hidden_need(database, caller, code, share, hidden_need_table.PAGE_ROWS)
    context = pages.region_context(
        data.summary,
        data.trend,
        data.model_only,
        data.rules_only,
        m,
        work=work,
        places=places,
        hit_rates=rates,
        label=label,
    )
    return context | {"hidden_need": hidden_need_table.context(listed, shown, places, m)}


def model_report(
    serving: ServingModel,
    caller: Caller,
    reader: RegistryReader,
    settings: ServiceSettings,
    m: Messages,
    *,
    alias: str,
    degraded: str | None,
    database: Database | None = None,
) -> dict[str, Any]:
    require_model_report(caller)
    artifacts = reader.run_artifacts(serving.info.get("run_id"))
    return pages.model_context(
        serving,
        name=reader.model_name,
        alias=alias,
        degraded=degraded,
        artifacts=artifacts,
        history=reader.history(),
        monitor=reader.latest_monitor(serving.version),
        drift=read_drift(settings.data_dir, serving.version),
        score_drift=served_score_drift(database, serving.version, artifacts, settings.reports_score_drift_days)
        if database is not None
        else None,
        psi_watch=settings.reports_psi_watch,
        psi_warning=settings.reports_psi_warning,
        m=m,
    )


def served_score_drift(database: Database, version: str, artifacts: RunArtifacts, days: int) -> ScoreDrift | None:
    """The drift of the version's scores stored in the last `days` days against its training run's test scores;
    None when the run stored no reference or the version stored no score in that time."""
    if artifacts.score_reference is None:
        return None
    since = datetime.now(UTC) - timedelta(days=days)
    with database.read_session() as session:
        counts = score_bin_counts(session, version, artifacts.score_reference["edges"], scored_since=since)
    return score_drift(version, artifacts.score_reference, artifacts.reference_rows, counts, since.date().isoformat())
