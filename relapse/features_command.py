"""`relapse features build` (point-in-time household profiles) and `relapse features docs`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
errors = Console(stderr=True)

features_app = typer.Typer(help="Household profiles as of a reference date.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(features_app, name="features")


@features_app.command("build")
def build(
    data: Annotated[Path, typer.Option("--data", help="Source folder: one <table>.parquet or .csv per table.")],
    as_of: Annotated[
        datetime,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Reference date; only earlier records count."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Profile table to write (.parquet or .csv).")],
) -> None:
    """Build one profile per household as of --as-of and write them to --out."""
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from features.errors import FeaturesError
    from features.profiles.build import STEPS, ProfileError, build_profiles
    from features.reading.sources import read_sources

    if out.suffix not in (".parquet", ".csv"):
        raise typer.BadParameter("use a .parquet or .csv file name", param_hint="--out")
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("reading sources", total=len(STEPS) + 1)
        try:
            sources = read_sources(data)
        except FeaturesError as error:
            errors.print(f"[red]✗ {escape(str(error))}[/red]")
            raise typer.Exit(2) from error
        progress.update(task, completed=1)

        def report(step: str, done: int, total: int) -> None:
            progress.update(task, description=step, completed=done + 1)

        try:
            profiles = build_profiles(sources, as_of.date(), progress=report)
        except ProfileError as error:
            errors.print(f"[red]✗ {escape(str(error))}[/red]")
            raise typer.Exit(1) from error
        progress.update(task, description="writing")
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            profiles.to_csv(out, index=False, date_format="%Y-%m-%d")
        else:
            profiles.to_parquet(out, index=False)
        progress.update(task, description="done", completed=len(STEPS) + 1)
    if sources.synthetic:
        console.print("[yellow]SYNTHETIC DATA — profiles of a fictional city.[/yellow]")
    console.print(
        f"[green]✓[/green] {len(profiles):,} profiles as of {as_of.date()} → {escape(str(out))} "
        f"({time.perf_counter() - started:.1f} s)"
    )


@features_app.command("docs")
def docs(
    folder: Annotated[Path, typer.Option("--folder", help="Where to write features.md and profiles.md.")] = Path(
        "docs"
    ),
) -> None:
    """Regenerate docs/features.md and docs/profiles.md from the feature catalogue."""
    from features.profiles.docs import write_feature_docs

    for path in write_feature_docs(folder):
        console.print(f"[green]✓[/green] wrote {escape(str(path))}")
