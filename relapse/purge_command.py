"""`relapse purge`: delete stored scores and audit entries older than a cut-off (a dry run unless `--yes`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("purge")(purge)


def purge(
    before: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Delete what was stored before this day (UTC), in both tables."),
    ] = None,
    retention: Annotated[
        bool,
        typer.Option(
            "--retention", help="Cut-offs from RELAPSE_RETENTION_DAYS_SCORES and RELAPSE_RETENTION_DAYS_AUDIT."
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes/--dry-run", help="Delete (--yes), or only count what would go (the default).")
    ] = False,
) -> None:
    """Delete old scores and audit entries in batches, under one audit entry; each household's latest score stays."""
    import getpass

    from service.db import open_database
    from service.errors import InvalidFieldError
    from service.migrate import upgrade_database
    from service.retention import count_purgeable, cutoffs_before, cutoffs_from_settings
    from service.retention import purge as run_purge
    from service.settings import get_settings

    if (before is None) == (not retention):
        raise InvalidFieldError("before", "give either --before DAY or --retention, not both and not neither")
    settings = get_settings()
    cutoffs = cutoffs_before(_day(before)) if before is not None else cutoffs_from_settings(settings)
    for name, cut in (("scores", cutoffs.scores_before), ("audit entries", cutoffs.audit_before)):
        console.print(f"{name}: " + ("kept (no cut-off)" if cut is None else f"stored before {cut:%Y-%m-%d %H:%M} UTC"))
    upgrade_database(settings.database_url)
    database = open_database(settings.database_url, settings)
    try:
        if not yes:
            counts = count_purgeable(database, cutoffs)
            console.print(
                f"dry run: would delete {counts.scores:,} scores and {counts.audit_entries:,} audit entries "
                f"(and the scoring runs left without a score, and {counts.household_sources:,} households' kept source "
                "rows); --yes deletes"
            )
            return
        done = run_purge(database, cutoffs, operator=getpass.getuser())
    finally:
        database.dispose()
    console.print(
        f"[green]✓[/] deleted {done.scores:,} scores, {done.household_runs:,} scoring runs and "
        f"{done.audit_entries:,} audit entries (and {done.household_sources:,} households' kept source rows); the "
        "purge is recorded in the audit log"
    )


def _day(value: datetime) -> date:
    return value.date()
