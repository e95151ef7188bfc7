"""`relapse visits import FILE`: store a grid worker's offline visit sheet (CSV or Excel), all rows or none;
`relapse visits export-outcomes`: the visit outcomes that are labels, for training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from relapse._progress import progress_bar

console = Console()
visits_app = typer.Typer(help="Record home visits from grid workers' sheets.", no_args_is_help=True)

MAX_SHOWN = 50


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(visits_app, name="visits")


@visits_app.command("import")
def import_visits(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The sheet: .csv or .xlsx.")],
    region: Annotated[
        str, typer.Option(help="Region prefix the sheet belongs to (e.g. 990101); its households must lie inside.")
    ] = "",
) -> None:
    """Check every row of a visit sheet and store them all in one transaction; with any problem, store nothing
    and list every problem by row and field (exit code 1)."""
    from service.db import open_database
    from service.migrate import upgrade_database
    from service.scope import Scope
    from service.settings import get_settings
    from service.visit_sheets import import_sheet, read_sheet

    settings = get_settings()
    upgrade_database(settings.database_url)
    frame = read_sheet(file)
    database = open_database(settings.database_url, settings)
    try:
        with database.session() as session, progress_bar(f"checking {file.name}") as report:
            stored, problems = import_sheet(
                session,
                Scope(region) if region else Scope.everything(),
                frame,
                lambda done, total: report("rows", done, total),
            )
            if problems:
                session.rollback()
    finally:
        database.dispose()
    if problems:
        table = Table("row", "field", "problem", title=f"{len(problems)} problem(s) in {file.name}; nothing stored")
        for problem in problems[:MAX_SHOWN]:
            table.add_row(str(problem.row), problem.field, problem.message)
        console.print(table)
        if len(problems) > MAX_SHOWN:
            console.print(f"… and {len(problems) - MAX_SHOWN} more")
        raise typer.Exit(1)
    console.print(f"[green]✓[/] stored {stored} visit(s) from {file.name}")


@visits_app.command("export-outcomes")
def export_outcomes(
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="Where to write: .parquet or .csv.")],
    region: Annotated[str, typer.Option(help="Region prefix to export (e.g. 990101); default: every region.")] = "",
) -> None:
    """Write the visit outcomes that are labels (taken into monitoring: 1, not at risk: 0) with the selection
    probability of the issued list each came from, for `relapse train --outcomes`; print what was left out."""
    from service.db import open_database
    from service.migrate import upgrade_database
    from service.outcomes import export_outcomes as read_outcomes
    from service.scope import Scope
    from service.settings import get_settings

    if out.suffix not in (".parquet", ".csv"):
        raise typer.BadParameter("write a .parquet or a .csv file", param_hint="--out")
    settings = get_settings()
    upgrade_database(settings.database_url)
    database = open_database(settings.database_url, settings)
    try:
        with database.read_session() as session:
            outcomes = read_outcomes(session, Scope(region) if region else Scope.everything())
    finally:
        database.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        outcomes.rows.to_csv(out, index=False)
    else:
        outcomes.rows.to_parquet(out, index=False)
    positives = int(outcomes.rows["label"].sum())
    console.print(f"[green]✓[/] {len(outcomes.rows)} outcome(s), {positives} positive, written to {out}")
    for reason, count in sorted(outcomes.dropped.items()):
        console.print(f"  left out: {count} visit(s): {reason}")
