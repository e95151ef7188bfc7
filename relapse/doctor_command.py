"""`relapse doctor [--env-file FILE] [--no-tls]`: check a production configuration before the service starts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

console = Console(highlight=False, soft_wrap=True)

# An unreachable tracking server is one line after a few seconds, not minutes of MLflow's retries with backoff;
# and the champion's download draws no progress bar between the problem lines.
_MLFLOW_QUIET = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def register(app: typer.Typer) -> None:
    """Add this module's command to the app."""
    app.command("doctor")(doctor)


def doctor(
    env_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="The service's environment file (e.g. /etc/relapse/relapse.env); a RELAPSE_* variable set in "
            "this process's environment takes precedence over the file.",
        ),
    ] = None,
    tls: Annotated[
        bool, typer.Option("--tls/--no-tls", help="The service is served over HTTPS through a proxy (nginx).")
    ] = True,
) -> None:
    """Check the database, the registry's champion, the key files and the settings: one line per problem, exit
    code 1 if there is any."""
    from features.settings import FeaturesSettings
    from service.doctor import check_configuration
    from service.settings import ServiceSettings

    for name, value in _MLFLOW_QUIET.items():
        os.environ.setdefault(name, value)
    source = env_file if env_file is not None else ".env"
    report = check_configuration(
        ServiceSettings(_env_file=source),  # type: ignore[call-arg]
        FeaturesSettings(_env_file=source),  # type: ignore[call-arg]
        behind_tls=tls,
    )
    for problem in report.problems:
        console.print(f"[red]✗[/] {escape(problem)}")
    if report.problems:
        raise typer.Exit(1)
    console.print(f"[green]ok[/]: {escape('; '.join(report.passed))}")
