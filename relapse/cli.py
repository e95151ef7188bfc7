"""The `relapse` command line: one Typer app composed of one command module per area.

This package is the top layer: it may import every other package; nothing imports it.
Heavy imports happen inside the commands so that `relapse --help` stays fast.
"""

from __future__ import annotations

import typer

from relapse import (
    data_commands,
    demo_command,
    explain_command,
    features_command,
    keys_command,
    report_command,
    score_command,
    serve_command,
    simulate_command,
    train_commands,
    tune_command,
)

app = typer.Typer(
    name="relapse",
    help="relapse-risk: predict, explain and act on the risk of (re)entering poverty.",
    no_args_is_help=True,
    add_completion=False,
)

demo_command.register(app)
simulate_command.register(app)
data_commands.register(app)
features_command.register(app)
train_commands.register(app)
tune_command.register(app)
keys_command.register(app)
explain_command.register(app)
score_command.register(app)
report_command.register(app)
serve_command.register(app)


@app.callback()
def _quiet_libraries() -> None:
    """MLflow and friends log at INFO by default; the CLI shows its own progress instead."""
    import os
    import warnings

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read by MLflow when it is first imported
    warnings.filterwarnings("ignore", module="mlflow")


if __name__ == "__main__":  # pragma: no cover
    app()
