"""`relapse monitor`: a registered model's realised performance once the outcomes of later rows are known, and
the drift of those rows against the reference distributions stored at training."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from relapse._progress import console
from relapse.train_commands import ModelNameOption, training_settings

if TYPE_CHECKING:
    from training.drift import Drift
    from training.monitor import Realised


def monitor(
    profiles: Annotated[Path, typer.Option(help="Table (CSV/Parquet) of rows scored after training.")],
    label: Annotated[
        str | None, typer.Option(help="Outcome column of --profiles (0/1, yes/no, 是/否); without it, drift only.")
    ] = None,
    spec: Annotated[
        Path | None, typer.Option(help="Feature spec the model was trained with (default: the model's own types).")
    ] = None,
    version: Annotated[str | None, typer.Option(help="Model version (default: champion, else challenger).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals.")] = 0,
    model_name: ModelNameOption = None,
) -> None:
    """PR-AUC, recall at 5 % and calibration on the later rows, beside the figures at training, and the drift of
    features and scores (PSI); logged to MLflow."""
    from training.monitor import monitor as run_monitor

    settings = training_settings(model_name)
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
