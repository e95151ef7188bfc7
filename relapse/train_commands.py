"""`relapse train`, `relapse evaluate`, `relapse promote`: the model lifecycle on the MLflow registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from relapse._progress import console, progress_bar


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
