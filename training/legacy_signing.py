"""Signing a model version that was registered without a manifest (by a release that did not sign models).

Such a version is refused by the service as unsigned. Retraining gives a signed model, but an operator may
instead vouch for the version as it stands: `relapse sign VERSION` shows the digests of its files, and with
`--yes` writes the signed manifest of exactly those files into the version's artifact location. The signature
then says "the key holder accepted these bytes"; a file changed later no longer matches its digest and the
version is refused again. A version that already has a manifest is never re-signed here: re-signing is what
would turn a tampered model into an accepted one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from models.risk_model import FILES, model_folders
from models.signing import (
    MANIFEST,
    ModelIntegrityError,
    SigningKey,
    digests,
    model_files,
    sign_folder,
    verify_folder,
)
from training.settings import TrainingSettings


@dataclass(frozen=True)
class UnsignedVersion:
    """A registered version without a manifest, downloaded to `folder`, and what the operator is shown."""

    name: str
    version: str
    run_id: str | None
    folder: Path
    relative: str  # the folder's path inside the version's artifact location
    location: str  # the version's artifact location (a URI)
    files: dict[str, str]  # file name → SHA-256
    sizes: dict[str, int]


@contextmanager
def unsigned_version(client: MlflowClient, settings: TrainingSettings, version: str) -> Iterator[UnsignedVersion]:
    """Download `version` of the configured registered model; raise unless it is complete and has no manifest."""
    name = settings.registered_model
    location = client.get_model_version_download_uri(name, version)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=tmp))
        folders = model_folders(root)
        if len(folders) != 1:
            raise ModelIntegrityError(f"version {version} of {name} holds {len(folders)} model folders, expected 1")
        folder = folders[0]
        if (folder / MANIFEST).exists():
            raise ModelIntegrityError(
                f"version {version} of {name} is already signed; a signed version is never re-signed "
                "(if its signature no longer checks out, train and promote a new one)"
            )
        missing = [file for file in FILES if not (folder / file).is_file()]
        if missing:
            raise ModelIntegrityError(f"version {version} of {name} lacks {', '.join(missing)}")
        mv = client.get_model_version(name, version)
        yield UnsignedVersion(
            name=name,
            version=version,
            run_id=mv.run_id,
            folder=folder,
            relative=folder.relative_to(root).as_posix(),
            location=location,
            files=digests(folder),
            sizes={file: (folder / file).stat().st_size for file in model_files(folder)},
        )


def sign_version(unsigned: UnsignedVersion, key: SigningKey) -> None:
    """Write the signed manifest of the files shown into the version's artifact location, then check it there."""
    manifest = sign_folder(unsigned.folder, key)
    repository = get_artifact_repository(unsigned.location)
    repository.log_artifact(str(manifest), artifact_path=unsigned.relative or None)
    with tempfile.TemporaryDirectory() as tmp:
        again = Path(mlflow.artifacts.download_artifacts(artifact_uri=unsigned.location, dst_path=tmp))
        verify_folder(again / unsigned.relative, key)
