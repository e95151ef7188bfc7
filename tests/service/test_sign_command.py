"""`relapse sign`: a version registered without a manifest (as by a release that did not sign) is refused by the
service, signed by the operator after seeing its digests, then served; a file changed after signing is refused."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from models.signing import MANIFEST, ModelIntegrityError
from relapse.cli import app
from service.model_holder import ModelHolder, RegistrySource
from tests.service.api_support import Registered
from training.pipeline import load_registered
from training.settings import get_settings
from training.tracking import configure, log_risk_model

pytestmark = pytest.mark.slow


@pytest.fixture
def trainer_env(registered: Registered, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """`relapse` run as the trainer: its data folder holds the registry and the signing key."""
    monkeypatch.setenv("RELAPSE_DATA_DIR", str(registered.store))
    monkeypatch.delenv("RELAPSE_MODEL_SIGNING_KEY", raising=False)
    monkeypatch.delenv("RELAPSE_MLFLOW_URI", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _register_without_manifest(registered: Registered) -> tuple[str, Path]:
    """Register version 1's model again the way training does, then remove its manifest from the artifact store:
    what a release that did not sign left in the registry. Returns the version and its model folder in the store."""
    settings = registered.settings
    client = MlflowClient(tracking_uri=registered.tracking_uri, registry_uri=registered.tracking_uri)
    model = load_registered(client, settings, "1")
    configure(settings)
    example = registered.data.snapshots[model.feature_names].head(5)
    with mlflow.start_run():
        info = log_risk_model(model, example, settings.registered_model, registered.signing)
    version = str(info.registered_model_version)
    location = Path(urlparse(client.get_model_version_download_uri(settings.registered_model, version)).path)
    (manifest,) = location.rglob(MANIFEST)
    manifest.unlink()
    return version, manifest.parent


def _start(registered: Registered, version: str, cache: Path) -> ModelHolder:
    client = MlflowClient(tracking_uri=registered.tracking_uri, registry_uri=registered.tracking_uri)
    alias = f"sign-{uuid.uuid4().hex[:8]}"
    client.set_registered_model_alias(registered.settings.registered_model, alias, version)
    holder = ModelHolder(
        RegistrySource(registered.tracking_uri, registered.settings.registered_model, alias), cache, registered.signing
    )
    holder.start()
    return holder


def test_an_unsigned_version_is_served_once_signed_and_refused_once_changed(
    registered: Registered, trainer_env: None, tmp_path: Path
) -> None:
    version, folder = _register_without_manifest(registered)
    refused = _start(registered, version, tmp_path / "cache-1")
    assert refused.current is None and "unsigned" in (refused.degraded or ""), refused.degraded

    runner = CliRunner()
    shown = runner.invoke(app, ["sign", version])
    assert shown.exit_code == 1, shown.output
    booster = hashlib.sha256((folder / "booster.txt").read_bytes()).hexdigest()
    assert booster in shown.output and "--yes" in shown.output
    assert not (folder / MANIFEST).exists()  # nothing written without --yes

    signed = runner.invoke(app, ["sign", version, "--yes"])
    assert signed.exit_code == 0, signed.output
    assert (folder / MANIFEST).is_file()
    served = _start(registered, version, tmp_path / "cache-2")
    assert served.current is not None and served.current.version == version, served.degraded

    again = runner.invoke(app, ["sign", version, "--yes"])
    assert isinstance(again.exception, ModelIntegrityError) and "already signed" in str(again.exception)

    calibrator = folder / "calibrator.json"  # a file changed in the registry after the operator vouched for it
    calibrator.write_text(calibrator.read_text(encoding="utf-8").replace("1", "2", 1), encoding="utf-8")
    changed = _start(registered, version, tmp_path / "cache-3")
    assert changed.current is None, changed.current
    assert "calibrator.json is not the file that was signed" in (changed.degraded or ""), changed.degraded
