"""`relapse validate`, `relapse ingest` and `relapse docs` (source-data contract)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
