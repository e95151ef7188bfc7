"""`relapse visits import FILE`: store a grid worker's offline visit sheet (CSV or Excel), all rows or none."""

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
