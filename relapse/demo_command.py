"""`relapse demo`: what the README's run command does — everything from nothing on one machine.

Create the local pseudonym key if none is configured, generate the demo city once in the data directory,
validate it and ingest it (pseudonymising ID numbers), and — when the registry has no champion — train,
evaluate and promote a first model. Later starts reuse what exists.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from relapse._progress import console, progress_bar

if TYPE_CHECKING:  # the commands import the service lazily, so that `relapse --help` starts fast
    from scoring.run import Progress
    from service.db import Database
    from service.job_runner import JobRunner
    from service.store import JobView
    from service.tables import JobStatus

DEMO_SEED = 20_260_101
DEMO_JOB = "demo city (relapse demo)"


def demo_sources_dir(data_dir: Path) -> Path:
    return data_dir / "demo" / "sources"


def demo(
    households: Annotated[int, typer.Option(min=100, help="Size of the demo city on first start.")] = 50_000,
    regenerate: Annotated[bool, typer.Option(help="Generate the demo city again even if it exists.")] = False,
) -> None:
    """Set up the demo on this machine: pseudonym key, synthetic city, validation, ingestion."""
    from features.pseudonyms.ingestion import load_sources
    from features.pseudonyms.keys import ensure_local_key
    from features.reading.sources import MANIFEST
    from features.settings import get_settings
    from features.simulation import CityConfig, simulate_city
    from features.validation.report import validate_sources

    settings = get_settings()
    key, created = ensure_local_key(settings)
    if created:
        console.print(
            "[yellow]No RELAPSE_PSEUDONYM_KEY configured: created a local key at "
            f"{settings.pseudonym_key_file} "
            "(readable only by you). Keep it: pseudonyms made with another key will not match.[/]"
        )
    out = demo_sources_dir(settings.data_dir)
    if regenerate or not (out / MANIFEST).is_file():
        with progress_bar("demo city") as report:
            simulate_city(CityConfig(households=households), DEMO_SEED, out, progress=report)
        console.print(f"[green]✓[/] generated the demo city ({households:,} households) in {out}")
    else:
        console.print(f"[green]✓[/] reusing the demo city in {out}")
    report_ = validate_sources(out)
    if not report_.ok:
        console.print(str(report_))
        raise typer.Exit(1)
    sources = load_sources(out, key)
    rows = sum(len(frame) for frame in sources.tables.values())
    console.print(
        f"[green]✓[/] valid: {len(sources.tables)} tables, {rows:,} rows; ID numbers pseudonymised "
        f"with key version {key.version}"
    )
    console.print("SYNTHETIC DATA — a fictional city; no real person or place.")
    ensure_champion(sources)
    ensure_admin_key()
    ensure_demo_scores(out, sources.manifest.get("extract_date"))


def ensure_admin_key() -> None:
    """On a fresh service database, create the local admin's first API key and print it (once)."""
    from service.db import open_database
    from service.keys import create_key, list_keys
    from service.migrate import upgrade_database
    from service.settings import get_settings as service_settings

    settings = service_settings()
    upgrade_database(settings.database_url)
    database = open_database(settings.database_url)
    try:
        with database.session() as session:
            if list_keys(session, include_revoked=True):
                console.print("[green]✓[/] API keys exist (`relapse keys list`; `relapse keys create` for more)")
                return
            created = create_key(session, role="admin", region_prefix="", label="local admin (relapse demo)")
        console.print("[bold]First API key for the local admin — shown once, keep it:[/]")
        console.print(f"  {created.plaintext}")
        console.print('  e.g. curl -H "Authorization: Bearer <key>" http://127.0.0.1:8000/v1/model')
    finally:
        database.dispose()


def ensure_demo_scores(folder: Path, extract_date: str | None) -> None:
    """Score the demo city once as a batch job, so that the region reports and visit lists have something to
    show from the first start (`relapse demo` runs it in this process, like the service's runner would)."""
    from datetime import date

    from features.pseudonyms.keys import ensure_local_key
    from service.app import build_holder
    from service.db import open_database
    from service.job_runner import JobRunner
    from service.settings import get_settings as service_settings
    from service.tables import JobStatus

    settings = service_settings()
    database = open_database(settings.database_url)
    try:
        done = demo_jobs(database, [JobStatus.DONE])
        if done:
            console.print(f"[green]✓[/] demo city scored ({done[0].rows_done:,} households, job {done[0].id})")
            return
        holder = build_holder(settings)
        as_of = date.fromisoformat(extract_date) if extract_date else date.today()
        options = {
            "folder": str(folder.resolve()),
            "as_of": as_of.isoformat(),
            "explain": True,
            "chunk_households": settings.job_chunk_households,
        }
        runner = JobRunner(database, holder, settings, ensure_local_key()[0])
        with progress_bar(f"scoring the demo city as of {as_of}") as report:
            job_id, status = run_demo_job(runner, options, progress=report)
        if status is JobStatus.QUEUED:
            console.print(
                f"[yellow]A running service holds the job runner: it scores the demo city (batch job {job_id}); "
                "reports have data once it is done.[/]"
            )
        elif status is not JobStatus.DONE:
            console.print(f"[red]scoring the demo city ended {status.value}; see GET /v1/jobs/{job_id}[/]")
            raise typer.Exit(1)
        else:
            console.print(f"[green]✓[/] scored the demo city as of {as_of} (batch job {job_id}): reports have data")
    finally:
        database.dispose()


def demo_jobs(database: Database, statuses: list[JobStatus]) -> list[JobView]:
    """The demo city's batch jobs in these states, newest first."""
    from service.scope import Scope
    from service.store import MAX_JOB_LIST, list_jobs

    with database.session() as session:
        jobs = list_jobs(session, Scope.everything(), statuses=statuses, limit=MAX_JOB_LIST)
    return [job for job in jobs if job.source == DEMO_JOB]


def run_demo_job(
    runner: JobRunner, options: dict[str, object], progress: Progress | None = None
) -> tuple[uuid.UUID, JobStatus]:
    """The demo city's batch job, run in this process under the runner lease: the one a `relapse demo` stopped
    midway left unfinished with the same options (it resumes after its last committed chunk), else a new one;
    unfinished ones with other options (a regenerated city, another date) are cancelled. If a running service
    holds the lease, the job is left queued for its runner (status QUEUED): running it here too would score it
    twice, and the service would put a job this process was running back in the queue."""
    from service.scope import Scope
    from service.store import update_job
    from service.tables import JobStatus

    database = runner.database
    if not runner.lease.acquire():
        unfinished = demo_jobs(database, [JobStatus.QUEUED, JobStatus.RUNNING])
        return _demo_job(database, options, unfinished), JobStatus.QUEUED
    try:
        runner.requeue_interrupted()  # with the lease held, a running job is one whose process died
        queued = demo_jobs(database, [JobStatus.QUEUED])
        with database.session() as session:
            for stale in queued:
                if not same_job(stale.options, options):
                    update_job(session, Scope.everything(), stale.id, status=JobStatus.CANCELLED)
        job_id = _demo_job(database, options, queued)
        if runner.holder.current is None:
            runner.holder.start()
        return job_id, runner.run(job_id, progress=progress)
    finally:
        runner.lease.release()


def _demo_job(database: Database, options: dict[str, object], unfinished: list[JobView]) -> uuid.UUID:
    """The first of the unfinished demo jobs with these options, else a new one."""
    from service.keys import Caller
    from service.scope import Scope
    from service.store import create_job

    same = [job for job in unfinished if same_job(job.options, options)]
    if same:
        return same[0].id
    with database.session() as session:
        return create_job(session, Scope.everything(), Caller.local_operator(), source=DEMO_JOB, options=options).id


def ensure_champion(sources: object) -> str:
    """The champion's version, training and promoting a first model on `sources` when there is none."""
    from mlflow import MlflowClient

    from training.pipeline import data_from_sources, train_and_register
    from training.registry import CHAMPION, alias_version, promote
    from training.settings import get_settings as training_settings
    from training.tracking import configure

    settings = training_settings()
    configure(settings)
    client = MlflowClient()
    champion = alias_version(client, settings.registered_model, CHAMPION)
    if champion is not None:
        console.print(f"[green]✓[/] champion model: {settings.registered_model} version {champion}")
        return champion
    with console.status("building labelled snapshots"):
        data = data_from_sources(sources)  # type: ignore[arg-type]
    with progress_bar("training the first model") as report:
        outcome = train_and_register(data, settings, progress=report)
    version = outcome.version or ""
    result = promote(client, settings, version)
    if not result.passed:
        reason = "first demo model; gate: " + "; ".join(result.failures())
        promote(client, settings, version, force=True, reason=reason)
        console.print(f"[yellow]promoted the first model despite the gate ({reason})[/]")
    m = outcome.evaluation.metrics
    console.print(
        f"[green]✓[/] champion model: version {version} — test PR-AUC {m['pr_auc']:.3f}, recall at 5 % "
        f"{m['recall_at_5pct']:.3f} ({outcome.evaluation.lift.get('recall_at_5pct', float('nan')):.2f}× the rules), "
        f"ECE {m['ece']:.4f}"
    )
    console.print(f"  MLflow UI: .venv/bin/mlflow ui --backend-store-uri {settings.tracking_uri}")
    return version


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(demo)


def same_job(stored: dict[str, object], wanted: dict[str, object]) -> bool:
    """Whether a stored demo job scores what is wanted; its partitioning is its own (a resume keeps it)."""

    def scored(options: dict[str, object]) -> dict[str, object]:
        return {key: value for key, value in options.items() if key != "chunk_households"}

    return scored(stored) == scored(wanted)
