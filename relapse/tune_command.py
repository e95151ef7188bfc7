"""`relapse tune`: hyper-parameter search with Optuna on the time-based validation period."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
