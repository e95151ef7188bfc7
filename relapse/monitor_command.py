"""`relapse monitor`: a registered model's realised performance once the outcomes of later rows are known, and
the drift of those rows against the reference distributions stored at training."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from relapse._progress import console
from relapse.train_commands import ModelNameOption, training_settings

if TYPE_CHECKING:
    from training.drift import Drift
    from training.monitor import Realised
    from training.settings import TrainingSettings


def monitor(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="A later extract of the source folder the model was trained on (e.g. `relapse simulate --extend`): "
            "each year after the training test date, drift and, once its outcomes are in, realised figures.",
        ),
    ] = None,
    profiles: Annotated[Path | None, typer.Option(help="Table (CSV/Parquet) of rows scored after training.")] = None,
    label: Annotated[
        str | None,
        typer.Option(
            help="Outcome column of --profiles (0/1, yes/no, 是/否); without it, drift only. With --from-service: "
            "the label built from --labels, need or identified (default: each version's own)."
        ),
    ] = None,
    from_service: Annotated[
        bool,
        typer.Option(
            "--from-service",
            help="Judge the scores the service stored (RELAPSE_DATABASE_URL, default data/service.db) instead of "
            "re-scoring a table.",
        ),
    ] = False,
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="With --from-service: first as_of date judged.")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="With --from-service: last as_of date judged.")
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(help="With --from-service: a later source folder whose records give the outcomes of the scores."),
    ] = None,
    spec: Annotated[
        Path | None, typer.Option(help="Feature spec the model was trained with (default: the model's own types).")
    ] = None,
    version: Annotated[str | None, typer.Option(help="Model version (default: champion, else challenger).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals.")] = 0,
    model_name: ModelNameOption = None,
) -> None:
    """PR-AUC, recall at 5 % and calibration on the later rows, beside the figures at training, and the drift of
    features and scores (PSI); logged to MLflow. --data: a later source folder; --profiles: a table;
    --from-service: the stored scores."""
    from training.byod import ProfileTableError
    from training.monitor import monitor as run_monitor

    settings = training_settings(model_name)
    if data is not None:
        if from_service or profiles is not None or label is not None or spec is not None:
            raise ProfileTableError(
                "--data judges a source folder with the version's own label: drop --from-service, --profiles, "
                "--label and --spec"
            )
        if since is not None or until is not None or labels is not None:
            raise ProfileTableError("--since, --until and --labels go with --from-service")
        _monitor_city(settings, data, version, seed)
        return
    if from_service:
        if profiles is not None or spec is not None or version is not None:
            raise ProfileTableError(
                "--from-service judges the stored scores of every version: drop --profiles, --spec and --version"
            )
        _monitor_served(settings, since, until, labels, label, seed)
        return
    if profiles is None:
        raise ProfileTableError(
            "give --data DIR (a later source folder), --profiles TABLE (rows scored after training), or --from-service"
        )
    if since is not None or until is not None or labels is not None:
        raise ProfileTableError("--since, --until and --labels go with --from-service")
    with console.status(f"scoring {profiles.name} with {settings.registered_model}"):
        chosen, realised, run_id, drift = run_monitor(settings, profiles, spec, label, version, seed)
    if realised is None:
        console.print(f"{settings.registered_model} version {chosen} on {profiles.name}: no --label, drift only")
    else:
        _print_realised(f"{settings.registered_model} version {chosen} on {profiles.name}", realised)
    if drift is None:
        console.print("no reference distributions stored with this version's training run: drift not computed")
    else:
        _print_drift(drift)
    console.print(f"MLflow run {run_id} (tag monitor_of_model={settings.registered_model})")


def _monitor_served(
    settings: TrainingSettings,
    since: datetime | None,
    until: datetime | None,
    labels: Path | None,
    label: str | None,
    seed: int,
) -> None:
    """The stored scores of the period, per model version: drift, and realised figures where outcomes are known."""
    from sqlalchemy.exc import OperationalError

    from features.reading.sources import read_sources
    from service.db import open_database
    from service.served_scores import served_scores
    from service.settings import get_settings
    from training.byod import ProfileTableError
    from training.drift import ACT, WATCH, level
    from training.labels import resolve_label
    from training.monitor_served import HORIZON_MONTHS, monitor_served

    try:
        kind = resolve_label(label) if label is not None else None
    except ValueError as error:
        raise ProfileTableError(f"--label: {error}") from None
    first, last = (None if d is None else d.date() for d in (since, until))
    service = get_settings()
    database = open_database(service.database_url, service)
    try:
        with database.session() as session:
            scores = served_scores(session, since=first, until=last)
    except OperationalError as error:
        raise ProfileTableError(
            f"the service database {database.engine.url.render_as_string()} cannot be read "
            f"({type(error.orig).__name__}): set RELAPSE_DATABASE_URL to the service's database"
        ) from None
    finally:
        database.dispose()
    period = f"{first or 'start'}..{last or 'end'}"
    if scores.empty:
        raise ProfileTableError(f"the service stored no scores with as_of in {period}")
    later = read_sources(labels) if labels is not None else None
    with console.status(f"judging {len(scores):,} stored scores ({period})"):
        checks = monitor_served(settings, scores, later, kind, period=period, seed=seed)
    for check in checks:
        title = (
            f"{settings.registered_model} version {check.version}: {check.scored:,} stored scores, "
            f"as_of {check.first_as_of} – {check.last_as_of}"
        )
        if check.realised is not None:
            _print_realised(title, check.realised)
        elif labels is None:
            console.print(f"{title}: no --labels, drift only")
        else:
            console.print(f"{title}: {check.labelled:,} with a known outcome, too few for realised figures")
        if check.incomplete_dates:
            console.print(
                f"  outcomes not yet complete ({HORIZON_MONTHS}-month window still open) for as_of "
                + ", ".join(check.incomplete_dates)
            )
        if check.drift is None:
            console.print("  no reference distributions stored with this version's training run: drift not computed")
        else:
            alert = level(check.drift.score)
            console.print(
                f"  score drift against training: PSI {check.drift.score:.3f} ({alert}; "
                f"≥ {WATCH} watch, ≥ {ACT} act, assumed) over {check.drift.rows:,} scores"
            )
        console.print(f"  MLflow run {check.run_id} (tag monitor_of_version={check.version})")


def _monitor_city(settings: TrainingSettings, data: Path, version: str | None, seed: int) -> None:
    from features.reading.sources import read_sources
    from training.drift import ACT, WATCH
    from training.monitor_city import monitor_city

    with console.status(f"profiling and scoring {data.name} with {settings.registered_model}"):
        done = monitor_city(settings, read_sources(data), version, seed)
    console.print(
        f"{settings.registered_model} version {done.version} (label {done.label}, tested on as_of "
        f"{done.test_as_of.date()}) on {data}"
    )
    for check in done.checks:
        title = f"as_of {check.as_of.date()} ({check.step} year(s) after the test date)"
        if check.realised is not None:
            _print_realised(title, check.realised)
        elif check.window_open:
            console.print(f"{title}, {check.rows:,} households: outcome window still open, drift only")
        else:
            console.print(f"{title}, {check.rows:,} households: too few positives for realised figures")
        if check.drift is not None:
            _print_drift(check.drift)
        reasons = check.retrain()
        console.print(
            "  [red]retrain: " + "; ".join(reasons) + "[/]"
            if reasons
            else f"  no alert level reached (score PSI < {ACT}, no realised figure worse than at training)"
        )
    console.print(f"  feature PSI ≥ {WATCH} watch, ≥ {ACT} act: look at the feature, then consider retraining")
    console.print(f"MLflow run {done.run_id} (tag monitor_of_model={settings.registered_model}, one step a year)")


def _print_realised(title: str, realised: Realised) -> None:
    from training.monitor import MONITORED

    table = Table(
        "metric",
        "at training",
        "95 % interval",
        "realised",
        "95 % interval",
        "verdict",
        title=f"{title} ({realised.rows} rows, {realised.positives} positives)",
    )
    for metric in MONITORED:
        before, (b_low, b_high) = realised.at_training[metric], realised.training_intervals[metric]
        low, high = realised.intervals[metric]
        verdict = realised.verdict(metric)
        colour = {"worse": "red", "better": "green"}.get(verdict, "default")
        table.add_row(
            metric,
            f"{before:.4f}",
            f"{b_low:.4f} – {b_high:.4f}",
            f"{realised.figures[metric]:.4f}",
            f"{low:.4f} – {high:.4f}",
            f"[{colour}]{verdict}[/]",
        )
    console.print(table)


def _print_drift(drift: Drift) -> None:
    from training.drift import ACT, WATCH, level

    colours = {"act": "red", "watch": "yellow", "stable": "default"}
    table = Table(
        "feature",
        "PSI",
        "level",
        title=f"drift against training ({drift.reference_rows} reference rows, {drift.rows} rows now; "
        f"PSI ≥ {WATCH} watch, ≥ {ACT} act, assumed)",
    )
    for name, value, alert in [("score", drift.score, level(drift.score)), *drift.top(10)]:
        table.add_row(name, f"{value:.3f}", f"[{colours[alert]}]{alert}[/]")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(monitor)
