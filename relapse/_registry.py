"""The registered model a command works with: the champion, or a version named on the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from relapse._progress import console

if TYPE_CHECKING:
    from models.risk_model import RiskModel


def registered_model(version: str | None) -> tuple[RiskModel, str]:
    """The model `version` (default: the champion) from the configured registry, and its version."""
    from mlflow import MlflowClient

    from training.pipeline import load_registered
    from training.registry import CHAMPION, alias_version
    from training.settings import get_settings
    from training.tracking import configure

    settings = get_settings()
    configure(settings)
    client = MlflowClient()
    version = version or alias_version(client, settings.registered_model, CHAMPION)
    if version is None:
        raise typer.BadParameter("no champion in the registry; run `relapse demo` or pass --version")
    with console.status(f"loading model version {version}"):
        return load_registered(client, settings, version), version
