"""The logged model names its runtime packages at the exact versions of the lock file."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from tests.service.api_support import Registered, registered  # noqa: F401 — fixture
from training.tracking import RUNTIME_PACKAGES, configure

ROOT = Path(__file__).resolve().parents[2]


def lock_versions() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    return {package["name"]: package["version"] for package in lock["package"] if "version" in package}


def test_the_runtime_packages_cover_what_the_entry_point_imports() -> None:
    assert {"mlflow", "lightgbm", "numpy", "pandas"} <= set(RUNTIME_PACKAGES)


@pytest.mark.slow
def test_the_registered_models_requirements_are_the_lock_files_pins(
    registered: Registered,  # noqa: F811
    tmp_path: Path,
) -> None:
    configure(registered.settings)
    client = MlflowClient(tracking_uri=registered.tracking_uri, registry_uri=registered.tracking_uri)
    champion = client.get_model_version_by_alias(registered.settings.registered_model, "champion")
    folder = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{registered.settings.registered_model}/{champion.version}", dst_path=str(tmp_path)
        )
    )
    lines = [line.strip() for line in (folder / "requirements.txt").read_text().splitlines() if line.strip()]
    pins = dict(line.split("==", 1) for line in lines)
    assert len(pins) == len(lines), lines  # every line an exact pin
    locked = lock_versions()
    for name in RUNTIME_PACKAGES:
        assert pins[name] == version(name) == locked[name], (name, pins.get(name), locked.get(name))
