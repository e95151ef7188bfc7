"""`relapse spec draft TABLE > spec.yaml`: a first feature spec for your own profile table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

spec_app = typer.Typer(help="Feature specs of your own profile tables (docs/profiles.md).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(spec_app, name="spec")


@spec_app.command("draft")
def draft(
    table: Annotated[Path, typer.Argument(help="Profile table (CSV or Parquet), one row per household and date.")],
) -> None:
    """Print a first feature spec for TABLE: types, missing codes, value maps, id, time, label and group columns
    guessed from the data, each guess marked `# guessed` for you to check."""
    from features.profiles.spec_draft import draft_spec
    from training.byod import read_profile_table

    if not table.is_file():
        raise FileNotFoundError(f"{table} is not a file")  # one line on any terminal width, exit code 2
    typer.echo(draft_spec(read_profile_table(table), table.name).text(), nl=False)
