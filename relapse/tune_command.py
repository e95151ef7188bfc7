"""`relapse tune`: hyper-parameter search with Optuna on the time-based validation period."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from relapse._progress import console, progress_bar

if TYPE_CHECKING:
    from training.pipeline import TrainingData


def tune(
    trials: Annotated[int, typer.Option(min=1, help="Number of parameter sets to try (the first is the defaults).")],
    data: Annotated[
        Path | None, typer.Option(help="Source folder (default: the demo city in the data directory).")
    ] = None,
    profiles: Annotated[
        Path | None, typer.Option(help="Your own profile table (CSV or Parquet) instead of a source folder.")
    ] = None,
    spec: Annotated[Path | None, typer.Option(help="Feature spec of --profiles (docs/profiles.md).")] = None,
    label: Annotated[str | None, typer.Option(help="Label column of --profiles.")] = None,
    time: Annotated[
        str | None, typer.Option(help="Time column of --profiles (without: stratified random split).")
    ] = None,
    group: Annotated[list[str] | None, typer.Option(help="Fairness group column of --profiles (repeatable).")] = None,
    timeout: Annotated[float | None, typer.Option(min=1, help="Start no new trial after this many seconds.")] = None,
    out: Annotated[Path, typer.Option(help="Best parameters as JSON, for `relapse train --params`.")] = Path(
        "best_params.json"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the sampler and of LightGBM.")] = 42,
    threads: Annotated[int, typer.Option(min=1, help="LightGBM threads (results depend on it).")] = 2,
) -> None:
    """Search LightGBM parameters on the validation period (the test period stays unseen); log to MLflow."""
    import optuna

    from features.profiles.spec import FeatureSpecError
    from training.fit import TrainConfig
    from training.settings import get_settings
    from training.tuning import tune as run_tune

    try:
        training_data = _load_data(data, profiles, spec, label, time, group or [], seed)
    except (FeatureSpecError, ValueError, typer.BadParameter) as error:
        console.print(f"[red]✗[/] {error}")
        raise typer.Exit(2) from error
    for note in training_data.notes:
        console.print(f"[yellow]note:[/] {note}")

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar reports each trial
    settings = get_settings()
    with progress_bar("tuning") as report:
        outcome = run_tune(
            training_data,
            settings,
            TrainConfig(seed=seed, num_threads=threads),
            trials=trials,
            timeout=timeout,
            out=out,
            progress=report,
        )

    table = Table(title=f"best of {len(outcome.trials)} trials: trial {outcome.best_trial}")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for name, value in sorted(outcome.best_params.items()):
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    default = outcome.trials.loc[outcome.trials["trial"] == 0, "valid_pr_auc"]
    baseline = f" (defaults: {float(default.iloc[0]):.4f})" if len(default) else ""
    console.print(f"[green]✓[/] validation PR-AUC {outcome.best_value:.4f}{baseline}; MLflow run {outcome.run_id}")
    console.print(f"[green]✓[/] wrote {out} — train with it: relapse train --params {out}")


def _load_data(
    data: Path | None,
    profiles: Path | None,
    spec: Path | None,
    label: str | None,
    time: str | None,
    groups: list[str],
    seed: int,
) -> TrainingData:
    if profiles is not None:
        from training.byod import data_from_profile_table

        if spec is None or label is None:
            raise typer.BadParameter("--profiles needs --spec and --label")
        return data_from_profile_table(profiles, spec, label, time, groups, seed=seed)
    if spec or label or time or groups:
        raise typer.BadParameter("--spec, --label, --time and --group go with --profiles")

    from features.pseudonyms.ingestion import load_sources
    from features.pseudonyms.keys import ensure_local_key
    from features.settings import get_settings
    from relapse.demo_command import demo_sources_dir
    from training.pipeline import data_from_sources

    settings = get_settings()
    folder = data or demo_sources_dir(settings.data_dir)
    if not folder.is_dir():
        hint = "" if data else " — run `relapse demo` first"
        raise typer.BadParameter(f"no source folder at {folder}{hint}")
    key, _ = ensure_local_key(settings)
    with console.status(f"building labelled snapshots from {folder}"):
        return data_from_sources(load_sources(folder, key))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(tune)
